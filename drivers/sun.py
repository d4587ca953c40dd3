"""SUN (Secure Unique NFC) messages of NTAG 424 DNA: derive on the chip side, verify here.

Pure functions, shared by the emulated chip (which mirrors SUN into the NDEF file) and
the verifier (``nfcbridge sun verify`` and the reference receiver). Checked against
AN12196 section 3 (rev. 2.0; section 4 in rev. 1.x), see docs/ntag424.md "Vectors".

- Encrypted PICC data: AES-CBC, IV 0, key SDMMetaReadKey, 16 bytes:
  PICCDataTag || UID (7) || SDMReadCtr (3, LSB first) || random padding.
- Session keys from SDMFileReadKey: CMAC over SV1 = C3 3C 00 01 00 80 [|| UID] [|| ctr]
  and SV2 = 3C C3 00 01 00 80 [|| UID] [|| ctr], zero-padded to 16 bytes.
- SDMMAC = MACt(KSesSDMFileReadMAC; URL text from SDMMACInputOffset to SDMMACOffset).
- Encrypted file data: AES-CBC, key KSesSDMFileReadENC, IV = E(KSesSDMFileReadENC,
  ctr (LSB first) || 13 zero bytes).
- Plain mirror: UID as 14 hex digits, counter as 6 hex digits most significant first.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from drivers.errors import TagError
from drivers.ntag424_crypto import (
    ZERO_IV,
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    aes_cmac,
    aes_ecb_encrypt,
    mac_t,
)

PICC_DATA_TAG_UID = 0x80
PICC_DATA_TAG_CTR = 0x40
PICC_UID_LENGTH_MASK = 0x0F


class SunError(TagError, ValueError):
    """A SUN message that cannot be read at all (missing or malformed parameters)."""


@dataclass(frozen=True)
class PiccData:
    uid: bytes | None
    counter: int | None


def sdm_session_vectors(uid: bytes | None, counter: int | None) -> tuple[bytes, bytes]:
    tail = (uid or b"") + (b"" if counter is None else counter.to_bytes(3, "little"))
    sv1 = b"\xc3\x3c\x00\x01\x00\x80" + tail
    sv2 = b"\x3c\xc3\x00\x01\x00\x80" + tail
    return sv1 + bytes(-len(sv1) % 16), sv2 + bytes(-len(sv2) % 16)


def sdm_session_keys(
    file_read_key: bytes, uid: bytes | None, counter: int | None
) -> tuple[bytes, bytes]:
    """(KSesSDMFileReadENC, KSesSDMFileReadMAC)."""
    sv1, sv2 = sdm_session_vectors(uid, counter)
    return aes_cmac(file_read_key, sv1), aes_cmac(file_read_key, sv2)


def encrypt_picc_data(meta_read_key: bytes, uid: bytes, counter: int, padding: bytes) -> bytes:
    """The chip side: 16 encrypted bytes for UID and counter (padding: 5 random bytes)."""
    tag = PICC_DATA_TAG_UID | PICC_DATA_TAG_CTR | len(uid)
    plain = bytes([tag]) + uid + counter.to_bytes(3, "little") + padding
    if len(plain) != 16:
        raise ValueError("PICC data is one AES block: 7-byte UID and 5 bytes of padding")
    return aes_cbc_encrypt(meta_read_key, ZERO_IV, plain)


def decrypt_picc_data(meta_read_key: bytes, enc: bytes) -> PiccData:
    if len(enc) != 16:
        raise SunError("encrypted PICC data must be 32 hex digits")
    plain = aes_cbc_decrypt(meta_read_key, ZERO_IV, enc)
    tag = plain[0]
    pos = 1
    uid = None
    counter = None
    if tag & PICC_DATA_TAG_UID:
        length = tag & PICC_UID_LENGTH_MASK
        if length != 7:
            # A wrong key decrypts to noise; say so rather than read garbage.
            raise SunError("PICC data does not decrypt to a UID (wrong meta read key?)")
        uid = plain[pos : pos + length]
        pos += length
    if tag & PICC_DATA_TAG_CTR:
        counter = int.from_bytes(plain[pos : pos + 3], "little")
    if uid is None and counter is None:
        raise SunError("PICC data does not decrypt to a UID or counter (wrong meta read key?)")
    return PiccData(uid=uid, counter=counter)


def file_data_iv(enc_session_key: bytes, counter: int) -> bytes:
    return aes_ecb_encrypt(enc_session_key, counter.to_bytes(3, "little") + bytes(13))


def encrypt_file_data(enc_session_key: bytes, counter: int, plain: bytes) -> bytes:
    return aes_cbc_encrypt(enc_session_key, file_data_iv(enc_session_key, counter), plain)


def decrypt_file_data(enc_session_key: bytes, counter: int, enc: bytes) -> bytes:
    if not enc or len(enc) % 16:
        raise SunError("encrypted file data must be a multiple of 32 hex digits")
    return aes_cbc_decrypt(enc_session_key, file_data_iv(enc_session_key, counter), enc)


def sdm_mac(mac_session_key: bytes, mac_input: bytes) -> bytes:
    """The 8-byte SDMMAC over the mirrored text between the two offsets."""
    return mac_t(mac_session_key, mac_input)


def tamper_status(file_data: bytes) -> dict[str, str] | None:
    """TagTamper status mirrored as two ASCII letters: permanent (latched), current."""
    if len(file_data) < 2:
        return None
    names = {"C": "closed", "O": "open", "I": "invalid"}
    latched, current = chr(file_data[0]), chr(file_data[1])
    if latched not in names or current not in names:
        return None
    return {"latched": names[latched], "current": names[current]}


# --- verifying a URL -----------------------------------------------------------


@dataclass(frozen=True)
class SunParams:
    """Which query parameters carry which part of the message."""

    picc: str | None = "picc_data"
    enc: str | None = "enc"
    mac: str = "cmac"
    uid: str | None = None
    ctr: str | None = None
    tamper_in_file_data: bool = False


@dataclass(frozen=True)
class SunResult:
    uid: bytes
    counter: int
    valid: bool
    file_data: bytes | None
    tamper: dict[str, str] | None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "uid": self.uid.hex().upper(),
            "counter": self.counter,
            "valid": self.valid,
            "file_data": None if self.file_data is None else self.file_data.hex().upper(),
        }
        if self.tamper is not None:
            out["tamper"] = self.tamper
        return out


def _unhex(name: str, text: str, length: int | None = None) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise SunError(f"parameter {name!r} is not hexadecimal") from None
    if length is not None and len(value) != length:
        raise SunError(f"parameter {name!r} must be {2 * length} hex digits")
    return value


def _value_span(query: str, name: str) -> tuple[int, int] | None:
    """Where the value of ``name`` starts and ends inside the raw query string."""
    pos = 0
    for part in query.split("&"):
        key, sep, _ = part.partition("=")
        if key == name and sep:
            start = pos + len(key) + 1
            return start, pos + len(part)
        pos += len(part) + 1
    return None


def verify_url(
    url: str,
    meta_read_key: bytes,
    file_read_key: bytes | Callable[[bytes], bytes],
    params: SunParams,
) -> SunResult:
    """Read and check a SUN URL; ``valid`` says whether the SDMMAC verifies.

    The MAC input is the URL text from the first mirrored value that the MAC covers in
    our templates: the encrypted file data when present (its hex text and everything
    up to the MAC value, e.g. ``CEE9...8962&cmac=``), otherwise nothing (the
    SDMMACInputOffset == SDMMACOffset layout of AN12196's examples). ``file_read_key``
    may be a function of the UID (diversified per-tag keys).
    """
    query = urlsplit(url.strip()).query
    values = dict(parse_qsl(query, keep_blank_values=True))
    if params.mac not in values:
        raise SunError(f"URL has no {params.mac!r} parameter")
    mac = _unhex(params.mac, values[params.mac], 8)
    if params.uid and params.ctr:
        if params.uid not in values or params.ctr not in values:
            raise SunError(f"URL has no {params.uid!r} or {params.ctr!r} parameter")
        uid: bytes | None = _unhex(params.uid, values[params.uid], 7)
        counter: int | None = int.from_bytes(_unhex(params.ctr, values[params.ctr], 3), "big")
    elif params.picc and params.picc in values:
        picc = decrypt_picc_data(meta_read_key, _unhex(params.picc, values[params.picc], 16))
        uid, counter = picc.uid, picc.counter
    else:
        raise SunError(f"URL has no {params.picc!r} parameter (nor plain UID and counter)")
    if uid is None or counter is None:
        raise SunError("the message mirrors no UID or no counter: nothing to verify")
    if callable(file_read_key):
        file_read_key = file_read_key(uid)  # per-tag keys: derived from the UID just read
    # per-tag keys: derived from the UID just read
    key = file_read_key(uid) if callable(file_read_key) else file_read_key
    enc_key, mac_key = sdm_session_keys(key, uid, counter)
    file_data = None
    mac_input = b""
    if params.enc and params.enc in values:
        enc = _unhex(params.enc, values[params.enc])
        file_data = decrypt_file_data(enc_key, counter, enc)
        enc_span = _value_span(query, params.enc)
        mac_span = _value_span(query, params.mac)
        if enc_span is None or mac_span is None:
            raise SunError("the MAC input cannot be located in the URL (encoded names?)")
        if mac_span[0] < enc_span[0]:
            raise SunError("the MAC must follow the encrypted file data in the URL")
        mac_input = query[enc_span[0] : mac_span[0]].encode("ascii")
    valid = hmac.compare_digest(sdm_mac(mac_key, mac_input), mac)
    tamper = None
    if params.tamper_in_file_data and file_data is not None:
        tamper = tamper_status(file_data)
    return SunResult(uid=uid, counter=counter, valid=valid, file_data=file_data, tamper=tamper)
