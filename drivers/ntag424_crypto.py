"""NTAG 424 DNA host-side cryptography: EV2 authentication and secure messaging.

Pure functions over bytes, checked byte for byte against the worked examples of NXP
AN12196 (see docs/ntag424.md, "Vectors" and tests/unit/test_ntag424_crypto.py). The
AES block cipher and AES-CMAC come from the ``cryptography`` package; nothing here
implements a cipher.

Conventions (NT4H2421Gx datasheet, section 9; AN12196 section 2 "Definition of
variables"): keys, random numbers, TI and MACs are written most significant byte first;
CmdCtr and file offsets/lengths travel least significant byte first. ``MACt`` is the
8 odd-indexed bytes (1, 3, ..., 15) of a full 16-byte CMAC.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from drivers.errors import TagError

BLOCK = 16
ZERO_IV = bytes(BLOCK)

# Status words of native commands (ISO 7816-4 wrapped: SW1 0x91, SW2 the status).
SW_OK = b"\x91\x00"
SW_MORE = b"\x91\xaf"


class Ntag424CryptoError(TagError, ValueError):
    """A cryptographic check failed (wrong key, wrong MAC, malformed answer)."""


# --- primitives (all through the `cryptography` package) -------------------------


def aes_ecb_encrypt(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    if len(data) % BLOCK:
        raise Ntag424CryptoError(f"ciphertext of {len(data)} bytes is not whole AES blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def truncate_mac(full: bytes) -> bytes:
    """MACt: the odd-indexed bytes of a 16-byte CMAC (AN12196 section 2)."""
    return full[1::2]


def mac_t(key: bytes, data: bytes) -> bytes:
    return truncate_mac(aes_cmac(key, data))


def pad_iso9797_m2(data: bytes) -> bytes:
    """Padding method 2: 0x80 then zeros up to a whole block (always adds a byte)."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % BLOCK)


def unpad_iso9797_m2(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise Ntag424CryptoError("bad padding in decrypted data (wrong key or corrupted)")
    return stripped[:-1]


def rotate_left(data: bytes) -> bytes:
    return data[1:] + data[:1]


def crc32_nk(data: bytes) -> bytes:
    """CRC32 without the final inversion (JAMCRC), little-endian, as ChangeKey uses."""
    return ((zlib.crc32(data) ^ 0xFFFFFFFF) & 0xFFFFFFFF).to_bytes(4, "little")


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


# --- EV2 authentication (NT4H2421Gx 9.1.5-9.1.7; AN12196 Table 14) -------------


def session_vector(label: bytes, rnd_a: bytes, rnd_b: bytes) -> bytes:
    """SV1 (label A5 5A) or SV2 (label 5A A5) of the EV2 key derivation.

    label || 00 01 00 80 || RndA[15:14] || (RndA[13:8] XOR RndB[15:10]) || RndB[9:0]
    || RndA[7:0], with byte 15 the leftmost (most significant) byte.
    """
    mixed = bytes(a ^ b for a, b in zip(rnd_a[2:8], rnd_b[0:6], strict=True))
    return label + b"\x00\x01\x00\x80" + rnd_a[0:2] + mixed + rnd_b[6:16] + rnd_a[8:16]


def auth_session_keys(key: bytes, rnd_a: bytes, rnd_b: bytes) -> tuple[bytes, bytes]:
    """(KSesAuthENC, KSesAuthMAC) from the authentication key and both randoms."""
    enc = aes_cmac(key, session_vector(b"\xa5\x5a", rnd_a, rnd_b))
    mac = aes_cmac(key, session_vector(b"\x5a\xa5", rnd_a, rnd_b))
    return enc, mac


@dataclass
class Session:
    """An authenticated EV2 session: keys, transaction identifier and command counter."""

    key_no: int
    ti: bytes
    enc_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)
    cmd_ctr: int = 0

    # -- IVs and MACs -----------------------------------------------------------
    def _ctr(self, ctr: int | None = None) -> bytes:
        return (self.cmd_ctr if ctr is None else ctr).to_bytes(2, "little")

    def iv_command(self) -> bytes:
        """IVc = E(KSesAuthENC, A5 5A || TI || CmdCtr || 8 zero bytes)."""
        return aes_ecb_encrypt(self.enc_key, b"\xa5\x5a" + self.ti + self._ctr() + bytes(8))

    def iv_response(self) -> bytes:
        """IVr = E(KSesAuthENC, 5A A5 || TI || CmdCtr+1 || 8 zero bytes), before the step."""
        ctr = (self.cmd_ctr + 1).to_bytes(2, "little")
        return aes_ecb_encrypt(self.enc_key, b"\x5a\xa5" + self.ti + ctr + bytes(8))

    def command_mac(self, ins: int, header: bytes, data: bytes) -> bytes:
        """MACt(KSesAuthMAC; Cmd || CmdCtr || TI || CmdHeader || data)."""
        return mac_t(self.mac_key, bytes([ins]) + self._ctr() + self.ti + header + data)

    def response_mac(self, status: int, data: bytes) -> bytes:
        """MACt over RC || CmdCtr+1 || TI || data (computed before the counter steps)."""
        ctr = (self.cmd_ctr + 1).to_bytes(2, "little")
        return mac_t(self.mac_key, bytes([status]) + ctr + self.ti + data)

    # -- whole commands ---------------------------------------------------------
    def encrypt_command_data(self, plain: bytes) -> bytes:
        return aes_cbc_encrypt(self.enc_key, self.iv_command(), pad_iso9797_m2(plain))

    def decrypt_response_data(self, enc: bytes) -> bytes:
        return unpad_iso9797_m2(aes_cbc_decrypt(self.enc_key, self.iv_response(), enc))

    def wrap_mac(self, ins: int, header: bytes, data: bytes = b"") -> bytes:
        """Body of a CommMode.MAC command: header || data || MACt."""
        return header + data + self.command_mac(ins, header, data)

    def wrap_full(self, ins: int, header: bytes, plain: bytes = b"") -> bytes:
        """Body of a CommMode.Full command: header || E(data) || MACt."""
        enc = self.encrypt_command_data(plain) if plain else b""
        return header + enc + self.command_mac(ins, header, enc)

    def unwrap_response(self, body: bytes, status: int = 0x00, *, full: bool = False) -> bytes:
        """Check the response MACt, step the counter, and return the (decrypted) data."""
        if len(body) < 8:
            raise Ntag424CryptoError("response too short to carry a MAC")
        data, mact = body[:-8], body[-8:]
        if self.response_mac(status, data) != mact:
            raise Ntag424CryptoError("response MAC does not verify (session lost)")
        plain = self.decrypt_response_data(data) if full and data else data
        self.cmd_ctr += 1
        return plain


def native_apdu(ins: int, body: bytes = b"") -> bytes:
    """A native command wrapped in ISO 7816-4: 90 INS 00 00 [Lc body] 00."""
    if body:
        return bytes([0x90, ins, 0x00, 0x00, len(body)]) + body + b"\x00"
    return bytes([0x90, ins, 0x00, 0x00, 0x00])


def auth_part1_apdu(key_no: int, *, first: bool = True) -> bytes:
    """AuthenticateEV2First (0x71, LenCap 00) or NonFirst (0x77)."""
    if first:
        return native_apdu(0x71, bytes([key_no, 0x00]))
    return native_apdu(0x77, bytes([key_no]))


def auth_part2(key: bytes, enc_rnd_b: bytes, rnd_a: bytes) -> tuple[bytes, bytes]:
    """Answer the chip's challenge: (E(K, RndA || RndB'), RndB)."""
    if len(enc_rnd_b) != BLOCK:
        raise Ntag424CryptoError("authentication challenge is not 16 bytes")
    rnd_b = aes_cbc_decrypt(key, ZERO_IV, enc_rnd_b)
    return aes_cbc_encrypt(key, ZERO_IV, rnd_a + rotate_left(rnd_b)), rnd_b


def auth_finish_first(
    key: bytes, key_no: int, rnd_a: bytes, rnd_b: bytes, response: bytes
) -> Session:
    """Check the chip's E(K, TI || RndA' || PDcap2 || PCDcap2) and open the session."""
    if len(response) != 2 * BLOCK:
        raise Ntag424CryptoError("authentication answer is not 32 bytes")
    plain = aes_cbc_decrypt(key, ZERO_IV, response)
    ti, rnd_a_rot = plain[0:4], plain[4:20]
    if rnd_a_rot != rotate_left(rnd_a):
        raise Ntag424CryptoError("authentication failed: the chip holds a different key")
    enc, mac = auth_session_keys(key, rnd_a, rnd_b)
    return Session(key_no=key_no, ti=ti, enc_key=enc, mac_key=mac, cmd_ctr=0)


def auth_finish_nonfirst(
    key: bytes, key_no: int, rnd_a: bytes, rnd_b: bytes, response: bytes, previous: Session
) -> Session:
    """NonFirst keeps TI and CmdCtr of the running session; only keys change."""
    if len(response) != BLOCK:
        raise Ntag424CryptoError("authentication answer is not 16 bytes")
    if aes_cbc_decrypt(key, ZERO_IV, response) != rotate_left(rnd_a):
        raise Ntag424CryptoError("authentication failed: the chip holds a different key")
    enc, mac = auth_session_keys(key, rnd_a, rnd_b)
    return Session(
        key_no=key_no, ti=previous.ti, enc_key=enc, mac_key=mac, cmd_ctr=previous.cmd_ctr
    )


# --- ChangeKey (NT4H2421Gx 10.6.1; AN12196 Tables 25/26) ------------------------


def change_key_plain(
    key_no: int, new_key: bytes, version: int, *, auth_key_no: int, old_key: bytes | None
) -> bytes:
    """Plain command data of ChangeKey before Full-mode encryption.

    Changing the authenticated key (case 2): NewKey || KeyVer.
    Changing another key (case 1): (NewKey XOR OldKey) || KeyVer || CRC32NK(NewKey).
    """
    if len(new_key) != BLOCK:
        raise ValueError("a key is 16 bytes")
    if key_no == auth_key_no:
        return new_key + bytes([version])
    if old_key is None or len(old_key) != BLOCK:
        raise ValueError("changing another key needs its current value")
    xored = bytes(a ^ b for a, b in zip(new_key, old_key, strict=True))
    return xored + bytes([version]) + crc32_nk(new_key)


def change_key_apdu(session: Session, key_no: int, plain: bytes) -> bytes:
    return native_apdu(0xC4, session.wrap_full(0xC4, bytes([key_no]), plain))


# --- AN10922 key diversification (AES-128) -------------------------------------

DIV_CONSTANT_AES128 = b"\x01"


def diversify_key(master_key: bytes, diversification_input: bytes) -> bytes:
    """AN10922 section 2.2: CMAC(K, 0x01 || M), M padded to 32 bytes when short.

    AN10922 pads 0x01 || M with 80 00.. to 32 bytes and uses CMAC subkey K2 when M is
    shorter than 31 bytes; for 16 < len(0x01 || M) < 32 that is exactly the standard
    AES-CMAC of the unpadded input, which the `cryptography` package computes. Inputs
    whose 0x01 || M is 16 bytes or fewer (where the two differ) are refused rather than
    computed by hand; M of 16 to 31 bytes is what this module builds (see
    ``tag_diversification_input``).
    """
    data = DIV_CONSTANT_AES128 + diversification_input
    if not 16 < len(data) <= 32:
        raise ValueError("diversification input must be 16 to 31 bytes long")
    return aes_cmac(master_key, data)


SYSTEM_IDENTIFIER = b"nfcbridge"


def tag_diversification_input(uid: bytes, key_no: int, key_version: int) -> bytes:
    """M = UID || key number || key version || system identifier (19 bytes for a 7-byte UID)."""
    if len(uid) != 7:
        raise ValueError("NTAG 424 DNA UIDs are 7 bytes")
    return uid + bytes([key_no, key_version]) + SYSTEM_IDENTIFIER


def tag_key(master_key: bytes, uid: bytes, key_no: int, key_version: int) -> bytes:
    """The per-tag key number ``key_no`` of ``uid``, never stored: derived when needed."""
    return diversify_key(master_key, tag_diversification_input(uid, key_no, key_version))
