"""nfcbridge: provision NFC receipt tags and forward door taps to a backend."""

__version__ = "0.1.0"
