"""One byte-exact NTAG21x / Ultralight EV1 chip model behind three front doors: the
``mock:`` reader, a PN532 UART emulator on a pty (for nfcpy and libnfc) and a virtual card
for pcscd's vpcd (for pyscard)."""
