"""Native commands of the NTAG 424 DNA model (NT4H2421Gx section 10; AN12196 traces).

A mixin of ``drivers.emulated.ntag424.Ntag424Chip``: authentication, secure messaging in
CommMode.MAC and Full (the host code of ``drivers.ntag424_crypto``, seen from the chip),
ChangeKey, Get/ChangeFileSettings, WriteData, GetCardUID, Read_Sig and GetVersion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.ntag424_crypto import (
    ZERO_IV,
    Ntag424CryptoError,
    Session,
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    auth_session_keys,
    crc32_nk,
    pad_iso9797_m2,
    rotate_left,
    unpad_iso9797_m2,
)
from drivers.ntag424_files import (
    COMM_MAC,
    COMM_PLAIN,
    FREE,
    AccessRights,
    FileSettings,
)

OK, MORE = 0x00, 0xAF
LENGTH_ERROR, PERMISSION_DENIED, PARAMETER_ERROR = 0x7E, 0x9D, 0x9E
AUTHENTICATION_ERROR, INTEGRITY_ERROR, COMMAND_ABORTED = 0xAE, 0x1E, 0xCA
ILLEGAL_COMMAND, NO_SUCH_KEY, BOUNDARY_ERROR = 0x1C, 0x40, 0xBE


@dataclass
class _File:
    data: bytearray
    settings: FileSettings


@dataclass
class _PendingAuth:
    key_no: int
    rnd_b: bytes
    first: bool


class NativeCommands:
    """The native command set; the state lives in the chip (declared here for typing)."""

    uid: bytes
    tagtamper: bool
    keys: list[bytes]
    key_versions: list[int]
    sdm_read_counter: int
    rng: Callable[[int], bytes]
    signature: bytes
    files: dict[int, _File]
    selected_app: bool
    session: Session | None
    pending: _PendingAuth | None
    version_frame: int
    counted_this_activation: bool
    views: dict[int, bytes]

    # -- native commands ----------------------------------------------------------------
    def _native(self, ins: int, body: bytes) -> bytes:
        if ins in (0x71, 0x77):
            return self._auth_part1(ins, body)
        if ins == MORE and self.pending is not None:
            return self._auth_part2(body)
        if ins == 0x60 or (ins == MORE and self.version_frame):
            return self._get_version()
        self.pending = None
        handlers = {
            0xC4: self._change_key,
            0x5F: self._change_file_settings,
            0xF5: self._get_file_settings,
            0x8D: self._write_data,
            0x51: self._get_card_uid,
            0x3C: self._read_sig,
        }
        handler = handlers.get(ins)
        if handler is None:
            return _sw(ILLEGAL_COMMAND)
        if not self.selected_app and ins not in (0x51, 0x3C):
            return _sw(PERMISSION_DENIED)
        try:
            return handler(ins, body)
        except Ntag424CryptoError:
            self.session = None
            return _sw(INTEGRITY_ERROR)

    def _get_version(self) -> bytes:
        frames = (
            bytes([0x04, 0x04, 0x08 if self.tagtamper else 0x02, 0x30, 0x00, 0x11, 0x05]),
            bytes([0x04, 0x04, 0x02, 0x01, 0x02, 0x11, 0x05]),
            self.uid + bytes.fromhex("CF39A1A0B00214") + b"\x21",
        )
        frame = frames[self.version_frame]
        self.version_frame = (self.version_frame + 1) % 3
        return frame + (_sw(OK) if self.version_frame == 0 else _sw(MORE))

    def _auth_part1(self, ins: int, body: bytes) -> bytes:
        first = ins == 0x71
        if not body or body[0] > 4:
            return _sw(NO_SUCH_KEY if body else LENGTH_ERROR)
        if not first and self.session is None:
            return _sw(PERMISSION_DENIED)
        rnd_b = self.rng(16)
        self.pending = _PendingAuth(key_no=body[0], rnd_b=rnd_b, first=first)
        return aes_cbc_encrypt(self.keys[body[0]], ZERO_IV, rnd_b) + _sw(MORE)

    def _auth_part2(self, body: bytes) -> bytes:
        pending, self.pending = self.pending, None
        assert pending is not None
        key = self.keys[pending.key_no]
        if len(body) != 32:
            self.session = None
            return _sw(LENGTH_ERROR)
        plain = aes_cbc_decrypt(key, ZERO_IV, body)
        rnd_a, rnd_b_rot = plain[:16], plain[16:]
        if rnd_b_rot != rotate_left(pending.rnd_b):
            self.session = None
            return _sw(AUTHENTICATION_ERROR)
        enc, mac = auth_session_keys(key, rnd_a, pending.rnd_b)
        if pending.first or self.session is None:
            ti = self.rng(4)
            self.session = Session(pending.key_no, ti, enc, mac, 0)
            answer = ti + rotate_left(rnd_a) + bytes(12)
        else:
            self.session = Session(pending.key_no, self.session.ti, enc, mac, self.session.cmd_ctr)
            answer = rotate_left(rnd_a)
        return aes_cbc_encrypt(key, ZERO_IV, answer) + _sw(OK)

    # secure messaging, chip side: check the command, answer with MAC (and data)
    def _open(self, ins: int, body: bytes, header_len: int, full: bool) -> tuple[bytes, bytes]:
        session = self.session
        if session is None:
            raise PermissionError
        if len(body) < header_len + 8:
            raise Ntag424CryptoError("command too short")
        header, data, mact = body[:header_len], body[header_len:-8], body[-8:]
        if session.command_mac(ins, header, data) != mact:
            raise Ntag424CryptoError("command MAC")
        if full and data:
            data = unpad_iso9797_m2(aes_cbc_decrypt(session.enc_key, session.iv_command(), data))
        return header, data

    def _answer(self, data: bytes = b"", *, full: bool = False) -> bytes:
        session = self.session
        assert session is not None
        if full and data:
            data = aes_cbc_encrypt(session.enc_key, session.iv_response(), pad_iso9797_m2(data))
        mact = session.response_mac(OK, data)
        session.cmd_ctr += 1
        return data + mact + _sw(OK)

    def _change_key(self, ins: int, body: bytes) -> bytes:
        try:
            header, plain = self._open(ins, body, 1, True)
        except PermissionError:
            return _sw(PERMISSION_DENIED)
        session = self.session
        assert session is not None
        key_no = header[0]
        if key_no > 4:
            return _sw(NO_SUCH_KEY)
        if session.key_no != 0:
            return _sw(PERMISSION_DENIED)
        if key_no == session.key_no:
            if len(plain) != 17:
                return _sw(LENGTH_ERROR)
            self.keys[key_no], self.key_versions[key_no] = plain[:16], plain[16]
            session.cmd_ctr += 1
            self.session = None  # the authenticated key changed: the session ends
            return _sw(OK)
        if len(plain) != 21:
            return _sw(LENGTH_ERROR)
        new = bytes(a ^ b for a, b in zip(plain[:16], self.keys[key_no], strict=True))
        if crc32_nk(new) != plain[17:21]:
            return _sw(INTEGRITY_ERROR)
        self.keys[key_no], self.key_versions[key_no] = new, plain[16]
        return self._answer()

    def _change_file_settings(self, ins: int, body: bytes) -> bytes:
        try:
            header, plain = self._open(ins, body, 1, True)
        except PermissionError:
            return _sw(PERMISSION_DENIED)
        stored = self.files.get(header[0])
        assert self.session is not None
        if stored is None:
            return _sw(PARAMETER_ERROR)
        if stored.settings.access.change not in (FREE, self.session.key_no):
            return _sw(PERMISSION_DENIED)
        try:
            settings = FileSettings.decode_change(plain)
        except ValueError:
            return _sw(PARAMETER_ERROR)
        stored.settings = settings
        self.views.clear()
        if settings.sdm is not None:
            self.sdm_read_counter = 0  # reset when enabling SDM (datasheet)
            self.counted_this_activation = False
        return self._answer()

    def _get_file_settings(self, ins: int, body: bytes) -> bytes:
        if self.session is None:
            if len(body) != 1 or body[0] not in self.files:
                return _sw(PARAMETER_ERROR)
            stored = self.files[body[0]]
            return stored.settings.encode_get(len(stored.data)) + _sw(OK)
        try:
            header, _ = self._open(ins, body, 1, False)
        except PermissionError:
            return _sw(PERMISSION_DENIED)
        stored = self.files[header[0]]
        return self._answer(stored.settings.encode_get(len(stored.data)))

    def _write_data(self, ins: int, body: bytes) -> bytes:
        """WriteData. AN12196 Table 17 writes the factory NDEF file (write access free,
        CommMode.Plain) in CommMode.Full inside a session; the model follows the trace:
        with a session, a body longer than the declared length is secure messaging."""
        if len(body) < 7 or body[0] not in self.files:
            return _sw(PARAMETER_ERROR)
        stored = self.files[body[0]]
        offset = int.from_bytes(body[1:4], "little")
        declared = int.from_bytes(body[4:7], "little")
        access = stored.settings.access
        allowed = {access.write, access.read_write}
        session = self.session
        secured = session is not None and len(body) - 7 != declared
        if not (FREE in allowed or (session is not None and session.key_no in allowed)):
            return _sw(PERMISSION_DENIED)
        if secured:
            full = stored.settings.comm_mode != COMM_MAC
            _, data = self._open(ins, body, 7, full)
        elif stored.settings.comm_mode != COMM_PLAIN and FREE not in allowed:
            return _sw(PERMISSION_DENIED)
        else:
            data = body[7:]
        if len(data) != declared:
            return _sw(LENGTH_ERROR)
        if offset + len(data) > len(stored.data):
            return _sw(BOUNDARY_ERROR)
        stored.data[offset : offset + len(data)] = data
        self.views.clear()
        if secured:
            return self._answer()
        if session is not None:
            session.cmd_ctr += 1
        return _sw(OK)

    def _get_card_uid(self, ins: int, body: bytes) -> bytes:
        try:
            self._open(ins, body, 0, False)
        except PermissionError:
            return _sw(PERMISSION_DENIED)
        return self._answer(self.uid, full=True)

    def _read_sig(self, ins: int, body: bytes) -> bytes:
        """Read_Sig (address 00): 56 bytes; CommMode.Full inside a session."""
        if self.session is None:
            if body != b"\x00":
                return _sw(PARAMETER_ERROR)
            return self.signature + _sw(OK)
        header, _ = self._open(ins, body, 1, False)
        if header != b"\x00":
            return _sw(PARAMETER_ERROR)
        return self._answer(self.signature, full=True)


def _ar(read: int, write: int, read_write: int, change: int) -> AccessRights:
    return AccessRights(read=read, write=write, read_write=read_write, change=change)


def _sw(status: int) -> bytes:
    return bytes([0x91, status])
