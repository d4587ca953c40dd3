"""The tag layer for NTAG 424 DNA over ISO-DEP: APDUs in, checked answers out.

``Ntag424`` runs on any ``transceive(apdu) -> rapdu`` (ISO 14443-4 exchange) and speaks
the ISO 7816-4 and native commands of the NT4H2421Gx datasheet, with secure messaging
from ``drivers.ntag424_crypto``. ``provision_sun`` turns a factory-fresh chip into a
SUN tag: per-tag keys diversified from a master key (AN10922), the NDEF URL template,
SDM with mirror offsets, write access restricted; then verified by two reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers import errors, sun
from drivers.ntag424_crypto import (
    Ntag424CryptoError,
    Session,
    auth_finish_first,
    auth_finish_nonfirst,
    auth_part1_apdu,
    auth_part2,
    change_key_apdu,
    change_key_plain,
    native_apdu,
    random_bytes,
    tag_key,
)
from drivers.ntag424_files import (
    FREE,
    OPT_ASCII,
    OPT_ENC_FILE_DATA,
    OPT_READ_CTR,
    OPT_TT_STATUS,
    OPT_UID,
    AccessRights,
    FileSettings,
    SdmSettings,
)
from drivers.signature import Verdict, verify_signature_424

Transceive = Callable[[bytes], bytes]

NDEF_AID = bytes.fromhex("D2760000850101")
NDEF_FILE_ID = 0xE104
NDEF_FILE_NO = 2
FACTORY_KEY = bytes(16)

# key numbers of a provisioned tag
KEY_ADMIN, KEY_META, KEY_FILE = 0, 1, 2


class Ntag424Error(errors.TagError):
    """The chip answered with an error status, or secure messaging failed."""


class Ntag424Refused(errors.TagError):
    """The chip is not a factory-fresh 424 DNA (its key 0 is not the factory key)."""


class Ntag424VerifyFailed(errors.TagError):
    """Provisioning wrote the tag but the two verification reads did not check out."""


@dataclass
class Ntag424:
    transceive: Transceive

    # -- plain ISO 7816-4 ---------------------------------------------------------------
    def _iso(self, apdu: bytes) -> bytes:
        answer = self.transceive(apdu)
        if answer[-2:] != b"\x90\x00":
            raise Ntag424Error(f"chip answered {answer[-2:].hex().upper()} to {apdu[:2].hex()}")
        return answer[:-2]

    def select_application(self) -> None:
        self._iso(bytes([0x00, 0xA4, 0x04, 0x0C, len(NDEF_AID)]) + NDEF_AID + b"\x00")

    def select_file(self, file_id: int) -> None:
        self._iso(bytes([0x00, 0xA4, 0x00, 0x0C, 0x02]) + file_id.to_bytes(2, "big"))

    def read_binary(self, offset: int, length: int) -> bytes:
        return self._iso(bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, length]))

    def read_ndef_file(self) -> bytes:
        """SELECT application, SELECT E104, READ BINARY: the file as mirrored by SDM."""
        self.select_application()
        self.select_file(NDEF_FILE_ID)
        head = self.read_binary(0, 2)
        length = int.from_bytes(head, "big")
        body = b""
        while len(body) < length:
            body += self.read_binary(2 + len(body), min(0xF0, length - len(body)))
        return head + body

    def read_ndef_uri(self) -> str:
        """The URL of the single URI record in the NDEF file."""
        return uri_from_ndef_file(self.read_ndef_file())

    # -- native commands ------------------------------------------------------------------
    def _native(self, apdu: bytes, *, expect: int = 0x00) -> bytes:
        answer = self.transceive(apdu)
        if len(answer) < 2 or answer[-2] != 0x91 or answer[-1] != expect:
            raise Ntag424Error(f"chip answered {answer[-2:].hex().upper()} to {apdu[1]:02X}")
        return answer[:-2]

    def get_version(self) -> bytes:
        out = self._native(native_apdu(0x60), expect=0xAF)
        out += self._native(native_apdu(0xAF), expect=0xAF)
        return out + self._native(native_apdu(0xAF))

    def authenticate(self, key_no: int, key: bytes) -> Session:
        challenge = self._native(auth_part1_apdu(key_no), expect=0xAF)
        rnd_a = random_bytes(16)
        try:
            part2, rnd_b = auth_part2(key, challenge, rnd_a)
        except Ntag424CryptoError as exc:
            raise Ntag424Error(str(exc)) from None
        answer = self.transceive(native_apdu(0xAF, part2))
        if answer[-2:] == b"\x91\xae":
            raise Ntag424Refused(f"key {key_no} does not authenticate")
        if answer[-2:] != b"\x91\x00":
            raise Ntag424Error(f"authentication answered {answer[-2:].hex().upper()}")
        try:
            return auth_finish_first(key, key_no, rnd_a, rnd_b, answer[:-2])
        except Ntag424CryptoError as exc:
            raise Ntag424Refused(str(exc)) from None

    def authenticate_nonfirst(self, session: Session, key_no: int, key: bytes) -> Session:
        """AuthenticateEV2NonFirst: new session keys, same TI and command counter."""
        challenge = self._native(auth_part1_apdu(key_no, first=False), expect=0xAF)
        rnd_a = random_bytes(16)
        try:
            part2, rnd_b = auth_part2(key, challenge, rnd_a)
            answer = self._native(native_apdu(0xAF, part2))
            return auth_finish_nonfirst(key, key_no, rnd_a, rnd_b, answer, session)
        except Ntag424CryptoError as exc:
            raise Ntag424Error(str(exc)) from None

    def _secure(self, session: Session, apdu: bytes, *, full: bool = False) -> bytes:
        body = self._native(apdu)
        try:
            return session.unwrap_response(body, full=full)
        except Ntag424CryptoError as exc:
            raise Ntag424Error(str(exc)) from None

    def write_data_full(self, session: Session, file_no: int, offset: int, data: bytes) -> None:
        header = bytes([file_no]) + offset.to_bytes(3, "little") + len(data).to_bytes(3, "little")
        self._secure(session, native_apdu(0x8D, session.wrap_full(0x8D, header, data)))

    def change_file_settings(self, session: Session, file_no: int, settings: FileSettings) -> None:
        body = session.wrap_full(0x5F, bytes([file_no]), settings.encode_change())
        self._secure(session, native_apdu(0x5F, body))

    def get_file_settings(self, session: Session, file_no: int) -> tuple[FileSettings, int]:
        data = self._secure(session, native_apdu(0xF5, session.wrap_mac(0xF5, bytes([file_no]))))
        return FileSettings.decode_get(data)

    def change_other_key(
        self, session: Session, key_no: int, new: bytes, old: bytes, version: int
    ) -> None:
        plain = change_key_plain(key_no, new, version, auth_key_no=session.key_no, old_key=old)
        self._secure(session, change_key_apdu(session, key_no, plain))

    def change_own_key(self, session: Session, new: bytes, version: int) -> None:
        plain = change_key_plain(
            session.key_no, new, version, auth_key_no=session.key_no, old_key=None
        )
        self._native(change_key_apdu(session, session.key_no, plain))

    def read_sig(self, session: Session | None = None) -> bytes:
        """The 56-byte originality signature (CommMode.Full inside a session)."""
        if session is None:
            return self._native(native_apdu(0x3C, b"\x00"))
        apdu = native_apdu(0x3C, session.wrap_mac(0x3C, b"\x00"))
        return self._secure(session, apdu, full=True)

    def get_card_uid(self, session: Session) -> bytes:
        return self._secure(session, native_apdu(0x51, session.wrap_mac(0x51, b"")), full=True)


# --- NDEF URL template ---------------------------------------------------------------


def ndef_file_for_uri(url: str) -> bytes:
    """NLEN || one short URI record (prefix 0x04 'https://' when it applies)."""
    prefix, rest = (0x04, url[8:]) if url.startswith("https://") else (0x00, url)
    payload = bytes([prefix]) + rest.encode("ascii")
    record = bytes([0xD1, 0x01, len(payload), 0x55]) + payload
    return len(record).to_bytes(2, "big") + record


def uri_from_ndef_file(data: bytes) -> str:
    length = int.from_bytes(data[:2], "big")
    record = data[2 : 2 + length]
    if len(record) < 5 or record[0] != 0xD1 or record[3] != 0x55:
        raise errors.TagError("NDEF file holds no single URI record")
    payload = record[4 : 4 + record[2]]
    if not payload:
        raise errors.TagError("NDEF URI record is empty")
    prefix = "https://" if payload[0] == 0x04 else ""
    return prefix + payload[1:].decode("ascii", "replace")


@dataclass(frozen=True)
class SunTemplate:
    """The URL written to the tag and the SDM settings that mirror into it."""

    ndef: bytes
    settings: FileSettings


def sun_template(base_url: str, *, tagtamper: bool) -> SunTemplate:
    """``BASE?p=<PICC>&e=<file data>&m=<MAC>``: encrypted UID+counter, MAC over 'e...&m='.

    The file data (16 bytes, 32 hex digits) starts with the TagTamper status letters on a
    TT chip (covered by encryption and MAC); filler otherwise.
    """
    sep = "&" if "?" in base_url else "?"
    url = f"{base_url}{sep}p={'0' * 32}&e={'T' * 2}{'x' * 14}{'0' * 16}&m={'0' * 16}"
    ndef = ndef_file_for_uri(url)
    text = ndef.decode("latin-1")
    picc = text.index("p=") + 2
    enc = text.index("&e=") + 3
    mac = text.index("&m=") + 3
    options = OPT_UID | OPT_READ_CTR | OPT_ENC_FILE_DATA | OPT_ASCII
    if tagtamper:
        options |= OPT_TT_STATUS
    sdm = SdmSettings(
        options=options,
        ctr_ret=KEY_FILE,
        meta_read=KEY_META,
        file_read=KEY_FILE,
        picc_offset=picc,
        mac_input_offset=enc,
        enc_offset=enc,
        enc_length=32,
        mac_offset=mac,
        tt_offset=enc if tagtamper else None,
    )
    access = AccessRights(read=FREE, write=KEY_ADMIN, read_write=KEY_ADMIN, change=KEY_ADMIN)
    return SunTemplate(ndef=ndef, settings=FileSettings(access=access, sdm=sdm))


SUN_PARAMS = sun.SunParams(picc="p", enc="e", mac="m")


def meta_key(master_key: bytes, key_version: int) -> bytes:
    """SDMMetaReadKey: one per system and key version (the UID is what it hides)."""
    return tag_key(master_key, bytes(7), KEY_META, key_version)


@dataclass(frozen=True)
class ProvisionedSun:
    uid: bytes
    key_version: int
    template_url: str
    settings: FileSettings
    first_counter: int
    commands: int
    signature: str  # originality verdict: nxp or test-key


def provision_sun(
    tag: Ntag424,
    base_url: str,
    master_key: bytes,
    key_version: int,
    *,
    tagtamper: bool,
    reactivate: Callable[[], object],
    accept_test_signature: bool = False,
) -> ProvisionedSun:
    """Factory chip -> SUN tag; refuses a chip whose key 0 is not the factory key.

    The originality signature (Read_Sig) must be NXP's; the emulator's test key only with
    ``accept_test_signature``. ``reactivate`` takes the tag out of the field and back (a
    new tap) between the two verification reads, so the second one must show the counter
    one higher.
    """
    counted = _Counter(tag.transceive)
    tag = Ntag424(counted)
    tag.select_application()
    session = tag.authenticate(KEY_ADMIN, FACTORY_KEY)
    uid = tag.get_card_uid(session)
    verdict = verify_signature_424(uid, tag.read_sig(session))
    if verdict is not Verdict.NXP and not (verdict is Verdict.TEST_KEY and accept_test_signature):
        raise Ntag424Refused(f"originality signature {verdict.value}: not a genuine NXP chip")
    template = sun_template(base_url, tagtamper=tagtamper)
    tag.write_data_full(session, NDEF_FILE_NO, 0, template.ndef)
    tag.change_file_settings(session, NDEF_FILE_NO, template.settings)
    tag.change_other_key(
        session, KEY_META, meta_key(master_key, key_version), FACTORY_KEY, key_version
    )
    file_key = tag_key(master_key, uid, KEY_FILE, key_version)
    tag.change_other_key(session, KEY_FILE, file_key, FACTORY_KEY, key_version)
    for other in (3, 4):
        key = tag_key(master_key, uid, other, key_version)
        tag.change_other_key(session, other, key, FACTORY_KEY, key_version)
    tag.change_own_key(session, tag_key(master_key, uid, KEY_ADMIN, key_version), key_version)
    counters = []
    for _ in range(2):
        result = sun.verify_url(
            tag.read_ndef_uri(), meta_key(master_key, key_version), file_key, SUN_PARAMS
        )
        if not result.valid or result.uid != uid:
            raise Ntag424VerifyFailed("a verification read does not carry a valid SUN message")
        counters.append(result.counter)
        reactivate()
    if counters[1] != counters[0] + 1:
        raise Ntag424VerifyFailed(f"the SDM read counter went {counters[0]} -> {counters[1]}")
    url = uri_from_ndef_file(template.ndef)
    return ProvisionedSun(
        uid, key_version, url, template.settings, counters[0], counted.count, verdict.value
    )


class _Counter:
    def __init__(self, inner: Transceive) -> None:
        self.inner, self.count = inner, 0

    def __call__(self, apdu: bytes) -> bytes:
        self.count += 1
        return self.inner(apdu)
