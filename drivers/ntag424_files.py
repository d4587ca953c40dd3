"""NTAG 424 DNA file settings: the bytes of GetFileSettings and ChangeFileSettings.

Layout from the NT4H2421Gx datasheet (section 10.7) and AN12196 Tables 7 and 18
(rev. 2.0): FileOption, AccessRights (2), then for SDM: SDMOptions, SDMAccessRights (2)
and the offsets that the options and access rights call for, each 3 bytes LSB first.

Access conditions are 4-bit key numbers: 0x0-0x4 a key, 0xE free, 0xF never.
"""

from __future__ import annotations

from dataclasses import dataclass

COMM_PLAIN = 0x00
COMM_MAC = 0x01
COMM_FULL = 0x03

FREE = 0xE
NEVER = 0xF

SDM_ENABLED = 0x40

OPT_UID = 0x80
OPT_READ_CTR = 0x40
OPT_READ_CTR_LIMIT = 0x20
OPT_ENC_FILE_DATA = 0x10
# TagTamper status mirror (NT4H2421Tx). The bit and the place of TTStatusOffset are
# modelled as bit 3 and a trailing offset [unconfirmed against the TT datasheet].
OPT_TT_STATUS = 0x08
OPT_ASCII = 0x01


@dataclass(frozen=True)
class AccessRights:
    read: int = FREE
    write: int = 0
    read_write: int = 0
    change: int = 0

    def encode(self) -> bytes:
        return bytes([(self.read_write << 4) | self.change, (self.read << 4) | self.write])

    @classmethod
    def decode(cls, data: bytes) -> AccessRights:
        return cls(
            read=data[1] >> 4, write=data[1] & 0xF, read_write=data[0] >> 4, change=data[0] & 0xF
        )


@dataclass(frozen=True)
class SdmSettings:
    options: int = OPT_UID | OPT_READ_CTR | OPT_ASCII
    ctr_ret: int = NEVER
    meta_read: int = FREE
    file_read: int = NEVER
    uid_offset: int | None = None
    ctr_offset: int | None = None
    picc_offset: int | None = None
    mac_input_offset: int | None = None
    enc_offset: int | None = None
    enc_length: int | None = None
    mac_offset: int | None = None
    ctr_limit: int | None = None
    tt_offset: int | None = None

    def access_bytes(self) -> bytes:
        return bytes([0xF0 | self.ctr_ret, (self.meta_read << 4) | self.file_read])

    def present_fields(self) -> list[str]:
        """The offsets this combination of options and access rights carries, in order."""
        names: list[str] = []
        if self.meta_read == FREE:
            if self.options & OPT_UID:
                names.append("uid_offset")
            if self.options & OPT_READ_CTR:
                names.append("ctr_offset")
        elif self.meta_read <= 4:
            names.append("picc_offset")
        if self.file_read != NEVER:
            names.append("mac_input_offset")
            if self.options & OPT_ENC_FILE_DATA:
                names += ["enc_offset", "enc_length"]
            names.append("mac_offset")
        if self.options & OPT_READ_CTR_LIMIT:
            names.append("ctr_limit")
        if self.options & OPT_TT_STATUS:
            names.append("tt_offset")
        return names

    def encode(self) -> bytes:
        out = bytes([self.options]) + self.access_bytes()
        for name in self.present_fields():
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"SDM settings need {name}")
            out += int(value).to_bytes(3, "little")
        return out


@dataclass(frozen=True)
class FileSettings:
    comm_mode: int = COMM_PLAIN
    access: AccessRights = AccessRights()
    sdm: SdmSettings | None = None

    def encode_change(self) -> bytes:
        """Command data of ChangeFileSettings (without the file number)."""
        option = self.comm_mode | (SDM_ENABLED if self.sdm else 0)
        out = bytes([option]) + self.access.encode()
        if self.sdm:
            out += self.sdm.encode()
        return out

    def encode_get(self, file_size: int, file_type: int = 0x00) -> bytes:
        """Response data of GetFileSettings."""
        option = self.comm_mode | (SDM_ENABLED if self.sdm else 0)
        out = bytes([file_type, option]) + self.access.encode() + file_size.to_bytes(3, "little")
        if self.sdm:
            out += self.sdm.encode()
        return out

    @classmethod
    def decode_change(cls, data: bytes) -> FileSettings:
        """Parse ChangeFileSettings data; raises ValueError on a short or bad layout."""
        if len(data) < 3:
            raise ValueError("file settings too short")
        option = data[0]
        access = AccessRights.decode(data[1:3])
        if not option & SDM_ENABLED:
            if len(data) != 3:
                raise ValueError("trailing bytes after file settings")
            return cls(comm_mode=option & 0x03, access=access)
        if len(data) < 6:
            raise ValueError("SDM settings too short")
        sdm = SdmSettings(
            options=data[3],
            ctr_ret=data[4] & 0xF,
            meta_read=data[5] >> 4,
            file_read=data[5] & 0xF,
        )
        fields: dict[str, int] = {}
        pos = 6
        for name in sdm.present_fields():
            if pos + 3 > len(data):
                raise ValueError(f"SDM settings end before {name}")
            fields[name] = int.from_bytes(data[pos : pos + 3], "little")
            pos += 3
        if pos != len(data):
            raise ValueError("trailing bytes after SDM settings")
        sdm = SdmSettings(
            options=sdm.options,
            ctr_ret=sdm.ctr_ret,
            meta_read=sdm.meta_read,
            file_read=sdm.file_read,
            **fields,
        )
        return cls(comm_mode=option & 0x03, access=access, sdm=sdm)

    @classmethod
    def decode_get(cls, data: bytes) -> tuple[FileSettings, int]:
        """Parse GetFileSettings data into (settings, file size)."""
        if len(data) < 7:
            raise ValueError("file settings answer too short")
        size = int.from_bytes(data[4:7], "little")
        return cls.decode_change(data[1:4] + data[7:]), size
