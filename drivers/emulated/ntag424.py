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
from drivers.emulated.ntag424_native import MORE, NativeCommands, _ar, _File, _PendingAuth
from drivers.ntag424_crypto import Session
from drivers.ntag424_files import (
    COMM_FULL,
    FREE,
    OPT_ENC_FILE_DATA,
    OPT_TT_STATUS,
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

FILE_IDS = {0xE103: 1, 0xE104: 2, 0xE105: 3}


@dataclass
class Ntag424Chip(NativeCommands):
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
