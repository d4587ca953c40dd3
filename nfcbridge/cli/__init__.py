"""The nfcbridge command line (click)."""
