"""Chip tables as data: GET_VERSION -> product, product -> memory map.

Source: docs/hardware.md, "NTAG21x memory map".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    name: str
    version: bytes  # GET_VERSION reply, 8 bytes
    pages: int  # total pages, 4 bytes each
    user_first: int  # first user page (always 4)
    user_last: int  # last user page, inclusive
    factory_cc: bytes  # page 3 as shipped
    factory_user: bytes  # user memory as shipped, from page 4 (rest is zero)
    dynamic_lock_page: int | None
    lock_all_dynamic: bytes | None  # the "lock everything" dynamic lock value
    cfg0_page: int
    dynamic_lock_unit: int  # pages covered by one dynamic lock bit
    signature_key: str  # NXP originality public key (uncompressed, hex)
    has_cfglck: bool = True

    @property
    def user_bytes(self) -> int:
        return (self.user_last - self.user_first + 1) * 4

    @property
    def cfg1_page(self) -> int:
        return self.cfg0_page + 1

    @property
    def pwd_page(self) -> int:
        return self.cfg0_page + 2

    @property
    def pack_page(self) -> int:
        return self.cfg0_page + 3

    @property
    def last_page(self) -> int:
        return self.pages - 1

    @property
    def is_ntag(self) -> bool:
        return self.version[2] == 0x04


NTAG_KEY = "04494E1A386D3D3CFE3DC10E5DE68A499B1C202DB5B132393E89ED19FE5BE8BC61"
ULEV1_KEY = "0490933BDCD6E99B4E255E3DA55389A827564E11718E017292FAF23226A96614B8"

NTAG213 = Product(
    name="NTAG213",
    version=bytes.fromhex("0004040201000F03"),
    pages=45,
    user_first=4,
    user_last=0x27,
    factory_cc=bytes.fromhex("E1101200"),
    factory_user=bytes.fromhex("0103A00C340300FE"),
    dynamic_lock_page=0x28,
    lock_all_dynamic=bytes.fromhex("FF0F3F00"),
    cfg0_page=0x29,
    dynamic_lock_unit=2,
    signature_key=NTAG_KEY,
)
NTAG215 = Product(
    name="NTAG215",
    version=bytes.fromhex("0004040201001103"),
    pages=135,
    user_first=4,
    user_last=0x81,
    factory_cc=bytes.fromhex("E1103E00"),
    factory_user=bytes.fromhex("0300FE00"),
    dynamic_lock_page=0x82,
    lock_all_dynamic=bytes.fromhex("FF000F00"),
    cfg0_page=0x83,
    dynamic_lock_unit=16,
    signature_key=NTAG_KEY,
)
NTAG216 = Product(
    name="NTAG216",
    version=bytes.fromhex("0004040201001303"),
    pages=231,
    user_first=4,
    user_last=0xE1,
    factory_cc=bytes.fromhex("E1106D00"),
    factory_user=bytes.fromhex("0300FE00"),
    dynamic_lock_page=0xE2,
    lock_all_dynamic=bytes.fromhex("FF3F7F00"),
    cfg0_page=0xE3,
    dynamic_lock_unit=16,
    signature_key=NTAG_KEY,
)
# Ultralight EV1: no NDEF formatting from the factory, no CFGLCK (CFG1 bit 6 is RFU);
# pages 16-17 (MF0UL11) / 36-40 (MF0UL21) hold config, 0x24 the dynamic lock on MF0UL21.
MF0UL11 = Product(
    name="MF0UL11",
    version=bytes.fromhex("0004030101000B03"),
    pages=20,
    user_first=4,
    user_last=0x0F,
    factory_cc=bytes.fromhex("00000000"),
    factory_user=b"",
    dynamic_lock_page=None,
    lock_all_dynamic=None,
    cfg0_page=0x10,
    dynamic_lock_unit=0,
    signature_key=ULEV1_KEY,
    has_cfglck=False,
)
MF0UL21 = Product(
    name="MF0UL21",
    version=bytes.fromhex("0004030101000E03"),
    pages=41,
    user_first=4,
    user_last=0x23,
    factory_cc=bytes.fromhex("00000000"),
    factory_user=b"",
    dynamic_lock_page=0x24,
    lock_all_dynamic=bytes.fromhex("FF0F0000"),
    cfg0_page=0x25,
    dynamic_lock_unit=2,
    signature_key=ULEV1_KEY,
    has_cfglck=False,
)

PRODUCTS: dict[str, Product] = {p.name: p for p in (NTAG213, NTAG215, NTAG216, MF0UL11, MF0UL21)}
BY_VERSION: dict[bytes, Product] = {p.version: p for p in PRODUCTS.values()}
NXP_VENDOR = 0x04


def product_by_name(name: str) -> Product:
    try:
        return PRODUCTS[name.upper()]
    except KeyError:
        raise ValueError(
            f"unknown tag product {name!r} (known: {', '.join(p.lower() for p in PRODUCTS)})"
        ) from None
