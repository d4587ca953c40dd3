"""NFC Forum Type 2 / NTAG21x command opcodes and the 4-bit ACK/NAK codes.

One place for the bytes the tag layer (``drivers.tag_memory``, ``drivers.ntag``) sends and
the PC/SC mapping (``drivers.pcsc_apdu``) recognises. Source: docs/hardware.md, "Type 2
commands, ACK and NAK". The chip model (``drivers.emulated.chip``) spells them again on
purpose, as an independent cross-check of this module.
"""

from __future__ import annotations

# Opcodes (the first byte of the command, before CRC_A).
GET_VERSION = 0x60
READ = 0x30
FAST_READ = 0x3A
WRITE = 0xA2
COMPATIBILITY_WRITE = 0xA0
READ_CNT = 0x39
PWD_AUTH = 0x1B
READ_SIG = 0x3C

# The 4-bit answer to a WRITE (and the NAK to any refused command).
ACK = 0x0A
NAK_INVALID = 0x0  # invalid argument: no such page, or a locked/protected page
NAK_CRC = 0x1  # parity or CRC error
NAK_AUTH_LIMIT = 0x4  # authentication counter overflow
NAK_EEPROM = 0x5  # EEPROM write error


def read(page: int) -> bytes:
    """READ: four pages from *page*."""
    return bytes([READ, page])


def fast_read(start: int, end: int) -> bytes:
    """FAST_READ: pages *start*..*end* inclusive."""
    return bytes([FAST_READ, start, end])


def write(page: int, data: bytes) -> bytes:
    """WRITE: one page of four bytes."""
    return bytes([WRITE, page]) + data


def is_read(command: bytes) -> bool:
    return len(command) == 2 and command[0] == READ


def is_write(command: bytes) -> bool:
    return len(command) == 6 and command[0] == WRITE
