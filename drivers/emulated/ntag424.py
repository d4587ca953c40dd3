"""A model of NTAG 424 DNA and NTAG 424 DNA TagTamper behind ISO 14443-4 (APDUs).

What is modelled (NT4H2421Gx datasheet, AN12196; docs/ntag424.md): RATS/ATS, ISO 7816-4
SELECT of the NDEF application (DF name D2760000850101) and of its files by ID (E103 CC,
E104 NDEF, E105 proprietary), READ BINARY and UPDATE BINARY under the files' access
rights; native commands GetVersion (three frames), AuthenticateEV2First/NonFirst,
ChangeKey, GetFileSettings, ChangeFileSettings, WriteData, GetCardUID, Read_Sig (signed
with the emulator test key unless given); secure messaging
in CommMode.MAC and Full with the shared host code (``drivers.ntag424_crypto``); the SDM
read counter and SUN mirroring on each NDEF read (``drivers.sun``); for TagTamper a loop
the emulator can open, mirrored as latched and current status.

Modelled choices [unconfirmed against silicon]: the counter steps once per activation on
the first READ BINARY of the SDM file (a multi-frame read of one tap sees one message);
the ATS bytes; GetVersion's HW subtype for the TT variant. Not modelled: LRP mode,
ReadData, random ID, the counter limit, timing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers import sun
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
    COMM_FULL,
    COMM_MAC,
    COMM_PLAIN,
    FREE,
    OPT_ENC_FILE_DATA,
    OPT_TT_STATUS,
    AccessRights,
    FileSettings,
)
from drivers.signature import sign_with_test_key_424

NDEF_AID = bytes.fromhex("D2760000850101")
ATS = bytes.fromhex("067777710280")

SW_ISO_OK = b"\x90\x00"
SW_ISO_NOT_FOUND = b"\x6a\x82"
SW_ISO_DENIED = b"\x69\x82"
SW_ISO_WRONG_PARAMS = b"\x6b\x00"
SW_ISO_NOT_SUPPORTED = b"\x6d\x00"

OK, MORE = 0x00, 0xAF
LENGTH_ERROR, PERMISSION_DENIED, PARAMETER_ERROR = 0x7E, 0x9D, 0x9E
AUTHENTICATION_ERROR, INTEGRITY_ERROR, COMMAND_ABORTED = 0xAE, 0x1E, 0xCA
ILLEGAL_COMMAND, NO_SUCH_KEY, BOUNDARY_ERROR = 0x1C, 0x40, 0xBE

FILE_IDS = {0xE103: 1, 0xE104: 2, 0xE105: 3}


@dataclass
class _File:
    data: bytearray
    settings: FileSettings


@dataclass
class _PendingAuth:
    key_no: int
    rnd_b: bytes
    first: bool


@dataclass
class Ntag424Chip:
    """One chip. ``tagtamper`` adds the tamper loop; ``open_tamper_loop`` opens it."""

    uid: bytes = field(default_factory=lambda: b"\x04" + os.urandom(6))
    tagtamper: bool = False
    keys: list[bytes] = field(default_factory=lambda: [bytes(16)] * 5)
    key_versions: list[int] = field(default_factory=lambda: [0] * 5)
    sdm_read_counter: int = 0
    loop_open: bool = False
    loop_latched_open: bool = False
    rng: Callable[[int], bytes] = field(default=os.urandom, repr=False)
    signature: bytes = b""  # originality signature; default: the emulator test key

    def __post_init__(self) -> None:
        if not self.signature:
            self.signature = sign_with_test_key_424(self.uid)
        # CCLEN 0017, mapping 2.0, MLe 0100, MLc 00FF, NDEF file E104 (256 bytes, free
        # read/write), proprietary file E105 (128 bytes, read key 2, write key 3)
        cc = bytes.fromhex("001720010000FF0406E104010000000506E10500808283")
        self.files: dict[int, _File] = {
            1: _File(bytearray(cc.ljust(32, b"\x00")), FileSettings(access=_ar(FREE, 0, 0, 0))),
            2: _File(bytearray(256), FileSettings(access=_ar(FREE, FREE, FREE, 0))),
            3: _File(bytearray(128), FileSettings(comm_mode=COMM_FULL, access=_ar(2, 3, 3, 0))),
        }
        self.power_on()

    # -- the field ------------------------------------------------------------------
    def power_on(self) -> None:
        self.selected_app = False
        self.selected_file: int | None = None
        self.session: Session | None = None
        self.pending: _PendingAuth | None = None
        self.version_frame = 0
        self.counted_this_activation = False
        self.views: dict[int, bytes] = {}
        self._chain = b""
        self._last_block = b""

    present: bool = False  # in a field (set by ``Field.place``)
    atqa: bytes = b"\x03\x44"  # SENS_RES as the PN532 reports it [unconfirmed]
    sak: int = 0x20  # SEL_RES: ISO 14443-4 compliant

    def activate(self) -> bool:
        """Anticollision, select and RATS: a new activation (new tap) of the chip."""
        self.power_on()
        return True

    def rats(self) -> bytes:
        return ATS

    # -- ISO 14443-4 block protocol (what a PN532 in InCommunicateThru passes through) -----
    def frame(self, data: bytes) -> bytes | None:
        """One ISO 14443-4 frame (without CRC): RATS, I-, R- and S-blocks; None = silence."""
        if not data:
            return None
        pcb = data[0]
        if pcb == 0xE0:
            self._chain, self._last_block = b"", ATS
            return ATS
        if pcb & 0xE2 == 0x02:  # I-block
            pos = 1 + (1 if pcb & 0x08 else 0) + (1 if pcb & 0x04 else 0)
            if pcb & 0x10:  # chaining: more to come, acknowledge this part
                self._chain += data[pos:]
                return bytes([0xA2 | (pcb & 0x01)])
            apdu, self._chain = self._chain + data[pos:], b""
            self._last_block = bytes([0x02 | (pcb & 0x01)]) + self.transceive(apdu)
            return self._last_block
        if pcb & 0xE6 == 0xA2:  # R-block: the reader missed our answer
            return self._last_block
        if pcb & 0xF7 == 0xC2:  # S(DESELECT)
            self.power_on()
            return bytes([pcb])
        return None

    def open_tamper_loop(self) -> None:
        """Cut the tamper wire: current status open, latched open for ever."""
        if not self.tagtamper:
            raise ValueError("only the TagTamper variant has a tamper loop")
        self.loop_open = True
        self.loop_latched_open = True

    def close_tamper_loop(self) -> None:
        self.loop_open = False

    # -- APDU entry -------------------------------------------------------------------
    def transceive(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return b"\x67\x00"
        cla, ins = apdu[0], apdu[1]
        if cla == 0x90:
            body = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
            if ins not in (0x60, MORE):
                self.version_frame = 0
            return self._native(ins, body)
        if cla == 0x00:
            self.version_frame = 0
            return self._iso(ins, apdu[2], apdu[3], apdu[4:])
        return b"\x6e\x00"

    # -- ISO 7816-4 -------------------------------------------------------------------
    def _iso(self, ins: int, p1: int, p2: int, rest: bytes) -> bytes:
        if ins == 0xA4:
            return self._select(p1, rest)
        if ins == 0xB0:
            return self._read_binary((p1 << 8) | p2, rest[0] if rest else 0)
        if ins == 0xD6:
            return self._update_binary((p1 << 8) | p2, rest[1 : 1 + rest[0]] if rest else b"")
        return SW_ISO_NOT_SUPPORTED

    def _select(self, p1: int, rest: bytes) -> bytes:
        data = rest[1 : 1 + rest[0]] if rest else b""
        if p1 == 0x04:
            if data != NDEF_AID:
                return SW_ISO_NOT_FOUND
            self.selected_app, self.selected_file = True, None
            self.session = None
            return SW_ISO_OK
        if p1 in (0x00, 0x02) and len(data) == 2 and self.selected_app:
            file_no = FILE_IDS.get(int.from_bytes(data, "big"))
            if file_no is None:
                return SW_ISO_NOT_FOUND
            self.selected_file = file_no
            return SW_ISO_OK
        return SW_ISO_NOT_FOUND

    def _plain_access(self, file_no: int, right: str) -> bool:
        access = self.files[file_no].settings.access
        allowed = {getattr(access, right), access.read_write}
        if FREE in allowed:
            return True
        return self.session is not None and self.session.key_no in allowed

    def _read_binary(self, offset: int, length: int) -> bytes:
        if self.selected_file is None:
            return SW_ISO_NOT_FOUND
        if not self._plain_access(self.selected_file, "read"):
            return SW_ISO_DENIED
        content = self.views.get(self.selected_file)
        if content is None:
            content = self.views[self.selected_file] = self.file_view(self.selected_file)
        if offset > len(content):
            return SW_ISO_WRONG_PARAMS
        end = len(content) if length == 0 else min(len(content), offset + length)
        return content[offset:end] + SW_ISO_OK

    def _update_binary(self, offset: int, data: bytes) -> bytes:
        if self.selected_file is None:
            return SW_ISO_NOT_FOUND
        if not self._plain_access(self.selected_file, "write"):
            return SW_ISO_DENIED
        target = self.files[self.selected_file].data
        if offset + len(data) > len(target):
            return SW_ISO_WRONG_PARAMS
        target[offset : offset + len(data)] = data
        self.views.clear()
        return SW_ISO_OK

    # -- SUN ----------------------------------------------------------------------------
    def tamper_letters(self) -> bytes:
        latched = b"O" if self.loop_latched_open else b"C"
        current = b"O" if self.loop_open else b"C"
        return latched + current

    def file_view(self, file_no: int) -> bytes:
        """The file as a reader sees it: with the SUN message mirrored into it."""
        stored = self.files[file_no]
        sdm = stored.settings.sdm
        if sdm is None:
            return bytes(stored.data)
        if not self.counted_this_activation:
            self.sdm_read_counter = (self.sdm_read_counter + 1) & 0xFFFFFF
            self.counted_this_activation = True
        ctr = self.sdm_read_counter
        view = bytearray(stored.data)

        def put(offset: int | None, text: str) -> None:
            if offset is not None:
                view[offset : offset + len(text)] = text.encode("ascii")

        if self.tagtamper and sdm.options & OPT_TT_STATUS and sdm.tt_offset is not None:
            view[sdm.tt_offset : sdm.tt_offset + 2] = self.tamper_letters()
        if sdm.meta_read == FREE:
            put(sdm.uid_offset, self.uid.hex().upper())
            put(sdm.ctr_offset, f"{ctr:06X}")
        elif sdm.meta_read <= 4:
            picc = sun.encrypt_picc_data(self.keys[sdm.meta_read], self.uid, ctr, self.rng(5))
            put(sdm.picc_offset, picc.hex().upper())
        if sdm.file_read <= 4 and sdm.mac_offset is not None:
            enc_key, mac_key = sun.sdm_session_keys(self.keys[sdm.file_read], self.uid, ctr)
            if sdm.options & OPT_ENC_FILE_DATA and sdm.enc_offset is not None and sdm.enc_length:
                start, half = sdm.enc_offset, sdm.enc_length // 2
                enc = sun.encrypt_file_data(enc_key, ctr, bytes(view[start : start + half]))
                put(start, enc.hex().upper())
            mac_input = bytes(view[sdm.mac_input_offset or 0 : sdm.mac_offset])
            put(sdm.mac_offset, sun.sdm_mac(mac_key, mac_input).hex().upper())
        return bytes(view)

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
