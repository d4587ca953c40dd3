"""PC/SC readers through pyscard: ``pcsc:NAME-SUBSTRING[?raw=acr122|transparent&share=...]``.

The reader is chosen by a case-insensitive substring of its PC/SC name (``pcsc:ACR122U``
matches "ACS ACR122U PICC Interface 00 00"); an exact name always wins.

Tag commands are carried in APDUs, built and read back by ``drivers.pcsc_apdu`` (READ and
WRITE as READ/UPDATE BINARY, anything else through a raw path). The default raw path is
``acr122`` for readers whose name says ACR122 and ``transparent`` otherwise.

The card is connected in exclusive mode by default (``share=exclusive``): a write-and-lock
sequence must not interleave with APDUs from another program. Another program holding the
card is ``ReaderBusy``; ``share=shared`` lets several programs in (taps only, say).

pcscd's state is per context: a pcscd restart invalidates the context, the driver raises
``ReaderGone``, and a new reader (``open_reader`` again) establishes a fresh context. No
SCARD code or pyscard exception leaves this module.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from smartcard import scard

from drivers.base import Capability, DetectedReader, Reader, Target
from drivers.errors import (
    CapabilityMissing,
    NfcError,
    ReaderBusy,
    ReaderError,
    ReaderGone,
    ReaderNotFound,
    ReaderURLError,
    TagGone,
)
from drivers.pcsc_apdu import (
    END_TRANSPARENT_SESSION,
    GET_UID,
    RAW_MODES,
    SIGNAL_FAIL,
    SIGNAL_OK,
    START_TRANSPARENT_SESSION,
    ApduRejected,
    NoValidAnswer,
    command_apdu,
    parse_tlv,
    tag_answer,
)
from drivers.url import ReaderURL

log = logging.getLogger("drivers.pcsc")

SHARE_MODES = {"exclusive": scard.SCARD_SHARE_EXCLUSIVE, "shared": scard.SCARD_SHARE_SHARED}
PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1

# SCARD codes (pyscard gives them as unsigned 32-bit values).
_TAG_LOST = {
    scard.SCARD_W_REMOVED_CARD,
    scard.SCARD_E_NO_SMARTCARD,
    scard.SCARD_W_RESET_CARD,
    scard.SCARD_E_NOT_TRANSACTED,
    scard.SCARD_W_UNRESPONSIVE_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
    scard.SCARD_E_COMM_DATA_LOST,
}
_READER_LOST = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_READER_UNAVAILABLE,
    scard.SCARD_E_UNKNOWN_READER,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_E_NO_READERS_AVAILABLE,
    scard.SCARD_F_COMM_ERROR,
}


def iso14443_4_historical(atr: bytes) -> bytes | None:
    """The ATS historical bytes from a PC/SC Part 3 contactless ATR of an ISO 14443-4 card
    (3B 8n 80 01 <historical> TCK); None for a storage card (historical 80 4F ...) or other.
    PC/SC does not pass the whole ATS, so ``Target.ats`` holds these bytes on pcsc: readers."""
    if len(atr) < 5 or atr[0] != 0x3B or atr[2:4] != b"\x80\x01":
        return None
    historical = atr[4 : 4 + (atr[1] & 0x0F)]
    if historical[:2] == b"\x80\x4f":
        return None
    return historical


def is_acr122(reader_name: str) -> bool:
    return "ACR122" in reader_name.upper()


def capabilities_for(reader_name: str) -> frozenset[Capability]:
    """SIGNAL only where we know the LED/buzzer APDU: the ACR122U. ISO-DEP everywhere: a
    PC/SC reader passes ISO 7816-4 APDUs to an ISO 14443-4 card as they are."""
    caps = {Capability.TRANSCEIVE, Capability.ISO_DEP}
    if is_acr122(reader_name):
        caps.add(Capability.SIGNAL)
    return frozenset(caps)


def scard_error(rc: int, doing: str, *, url: str, uid: bytes | None = None) -> NfcError:
    """The exception for SCARD code *rc*: the card lost is ``TagGone``, pcscd or the reader
    lost is ``ReaderGone``, anything else ``ReaderError``; the message names the code."""
    message = f"{doing}: {_message(rc)}"
    if rc in _READER_LOST:
        return ReaderGone(message, url=url)
    if rc in _TAG_LOST:
        return TagGone(message, uid=uid)
    return ReaderError(message, url=url)


def _message(rc: int) -> str:
    try:
        text = scard.SCardGetErrorMessage(rc)
    except Exception:  # only decoration
        text = "PC/SC error"
    return f"{text.rstrip('.')} (0x{rc & 0xFFFFFFFF:08X})"


class PcscReader(Reader):
    """One PC/SC reader slot, by name substring."""

    url_options = ("raw", "share")

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRANSCEIVE})
    poll_interval = 0.05

    def __init__(self, url: ReaderURL) -> None:
        super().__init__(url)
        raw = url.get("raw")
        if raw is not None and raw not in RAW_MODES:
            raise ReaderURLError(
                f"pcsc reader raw={raw!r}: expected one of {', '.join(RAW_MODES)}", url=str(url)
            )
        share = url.get("share", "exclusive") or "exclusive"
        if share not in SHARE_MODES:
            raise ReaderURLError(
                f"pcsc reader share={share!r}: expected exclusive or shared", url=str(url)
            )
        self._raw_param = raw
        self.raw = raw or "transparent"
        self._share = SHARE_MODES[share]
        self.reader_name = ""
        self._context: Any = None
        self._card: Any = None
        self._protocol = 0
        self._session_open = False  # transparent session started on this card connection

    # -- hooks ---------------------------------------------------------------------------
    def _open(self) -> None:
        self._context = self._establish()
        self.reader_name = self._choose(self._list_readers())
        self.raw = self._raw_param or ("acr122" if is_acr122(self.reader_name) else "transparent")
        self.capabilities = capabilities_for(self.reader_name)  # type: ignore[misc]

    def _close(self) -> None:
        if self._session_open and self._card is not None:
            # If the card or the reader is already gone, the session ended with it.
            with contextlib.suppress(TagGone, ReaderError):
                self._transmit(END_TRANSPARENT_SESSION)
        self._disconnect()
        if self._context is not None:
            context, self._context = self._context, None
            scard.SCardReleaseContext(context)

    def _poll_once(self) -> Target | None:
        if self._card is not None:
            rc, _name, state, _proto, _atr = self._scard(scard.SCardStatus, self._card)
            if rc == scard.SCARD_S_SUCCESS:
                return self.target
            if rc not in _TAG_LOST:
                self._fail(rc, "reading the card status")
            self._disconnect()
        rc, states = self._scard(
            scard.SCardGetStatusChange,
            self._context,
            0,
            [(self.reader_name, scard.SCARD_STATE_UNAWARE)],
        )
        if rc not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
            self._fail(rc, "polling the reader")
        state = states[0][1] if states else 0
        if not state & scard.SCARD_STATE_PRESENT or state & scard.SCARD_STATE_MUTE:
            return None
        return self._connect()

    def _transceive(self, command: bytes, timeout: float) -> bytes:
        # PC/SC has no per-APDU timeout: the reader applies the tag's frame timeout itself.
        if self._card is None:
            raise TagGone("no tag connected", uid=self.target.uid if self.target else None)
        try:
            apdu = command_apdu(command, self.raw)
        except ValueError as exc:  # a command no APDU can carry: this reader cannot send it
            raise CapabilityMissing(str(exc), url=str(self.url)) from None
        if apdu[1] == 0xC2 and not self._session_open:
            self._start_transparent_session()
        response = self._transmit(apdu)
        try:
            return tag_answer(command, self.raw, response)
        except NoValidAnswer as exc:
            raise TagGone(str(exc)) from None
        except ApduRejected as exc:
            raise CapabilityMissing(
                f"reader {self.reader_name!r} cannot carry raw tag commands with raw={self.raw}"
                f" ({exc}); try ?raw={'transparent' if self.raw == 'acr122' else 'acr122'}",
                url=str(self.url),
            ) from None

    def _reselect(self) -> Target | None:
        if self._card is None:
            return self._poll_once()
        rc, protocol = self._scard(
            scard.SCardReconnect, self._card, self._share, PROTOCOLS, scard.SCARD_RESET_CARD
        )
        if rc in _TAG_LOST:
            self._disconnect()
            return None
        if rc != scard.SCARD_S_SUCCESS:
            self._fail(rc, "re-selecting the tag")
        self._protocol = protocol
        return self._identify()

    def _signal(self, ok: bool) -> None:
        if self._card is None:
            return  # the ACR122U takes pseudo-APDUs only through a card connection
        try:
            self._transmit(SIGNAL_OK if ok else SIGNAL_FAIL)
        except (TagGone, ReaderError) as exc:
            log.warning("signal on %s failed: %s", self.reader_name, exc)

    @classmethod
    def detect(cls) -> list[DetectedReader]:
        """The PC/SC readers pcscd knows; none (not an error) when pcscd is not running."""
        try:
            rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        except scard.error:
            return []
        if rc != scard.SCARD_S_SUCCESS:
            return []
        try:
            rc, names = scard.SCardListReaders(context, [])
        except scard.error:
            return []
        finally:
            scard.SCardReleaseContext(context)
        if rc != scard.SCARD_S_SUCCESS:
            return []
        return [
            DetectedReader(url=f"pcsc:{name}", description=f"PC/SC reader {name}") for name in names
        ]

    # -- helpers -------------------------------------------------------------------------
    def _scard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a pyscard function; its own exceptions become ReaderError."""
        try:
            return fn(*args)
        except (scard.error, TypeError, ValueError) as exc:
            raise ReaderError(
                f"PC/SC call {fn.__name__} failed on {self.url}: {exc}", url=str(self.url)
            ) from exc

    def _fail(self, rc: int, doing: str) -> NoReturn:
        if rc in _READER_LOST or rc in _TAG_LOST:
            self._disconnect(quiet=True)
        raise scard_error(
            rc,
            f"PC/SC reader {self.reader_name or self.url.target!r}: {doing}",
            url=str(self.url),
            uid=self.target.uid if self.target else None,
        )

    def _establish(self) -> Any:
        rc, context = self._scard(scard.SCardEstablishContext, scard.SCARD_SCOPE_USER)
        if rc == scard.SCARD_S_SUCCESS:
            return context
        if rc in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
            raise ReaderNotFound(
                f"no PC/SC service for {self.url}: pcscd is not running "
                "(start it: systemctl start pcscd.socket)",
                url=str(self.url),
            )
        self._fail(rc, "connecting to pcscd")

    def _list_readers(self) -> list[str]:
        rc, names = self._scard(scard.SCardListReaders, self._context, [])
        if rc == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if rc != scard.SCARD_S_SUCCESS:
            self._fail(rc, "listing readers")
        return list(names)

    def _choose(self, names: list[str]) -> str:
        wanted = self.url.target
        if wanted in names:
            return wanted
        matches = [n for n in names if wanted.lower() in n.lower()]
        if len(matches) == 1:
            return matches[0]
        present = ", ".join(repr(n) for n in names) or "none"
        if not matches:
            raise ReaderNotFound(
                f"no PC/SC reader matches {wanted!r} (readers present: {present})",
                url=str(self.url),
            )
        raise ReaderURLError(
            f"{wanted!r} matches several PC/SC readers ({', '.join(map(repr, matches))}): "
            "use a longer part of the name",
            url=str(self.url),
        )

    def _connect(self) -> Target | None:
        rc, card, protocol = self._scard(
            scard.SCardConnect, self._context, self.reader_name, self._share, PROTOCOLS
        )
        if rc == scard.SCARD_E_SHARING_VIOLATION:
            raise ReaderBusy(
                f"PC/SC reader {self.reader_name!r} is in use by another program",
                url=str(self.url),
                hint="close the other PC/SC program (pcsc_scan, a browser, another "
                "nfcbridge) or, for taps only, use ?share=shared",
            )
        if rc in _TAG_LOST:
            return None  # the card left between the poll and the connect
        if rc != scard.SCARD_S_SUCCESS:
            self._fail(rc, "connecting to the card")
        self._card, self._protocol = card, protocol
        return self._identify()

    def _start_transparent_session(self) -> None:
        """PC/SC 2.02 readers take Transparent Exchange only inside a session."""
        response = self._transmit(START_TRANSPARENT_SESSION)
        try:
            status = parse_tlv(response[:-2]).get(0xC0, b"\x00")
        except ValueError:
            status = b"\xff"  # malformed data objects: no session
        if response[-2:] != b"\x90\x00" or status[:1] != b"\x00":
            raise CapabilityMissing(
                f"reader {self.reader_name!r} refuses a transparent session "
                f"({response.hex().upper()}); try ?raw=acr122",
                url=str(self.url),
            )
        self._session_open = True

    def _identify(self) -> Target | None:
        """After (re)connecting: read the UID (a reset also ends a transparent session)."""
        self._session_open = False
        try:
            response = self._transmit(GET_UID)
        except TagGone:
            self._disconnect(quiet=True)
            return None
        if len(response) < 6 or response[-2:] != b"\x90\x00":
            self._disconnect(quiet=True)
            return None
        historical = iso14443_4_historical(self._atr())
        if historical is not None:
            return Target(uid=response[:-2], atqa=b"\x03\x44", sak=0x20, ats=historical)
        return Target(uid=response[:-2])

    def _atr(self) -> bytes:
        rc, _name, _state, _proto, atr = self._scard(scard.SCardStatus, self._card)
        return bytes(atr) if rc == scard.SCARD_S_SUCCESS else b""

    def _transceive_apdu(self, apdu: bytes, timeout: float) -> bytes:
        if self._card is None:
            raise TagGone("no tag connected", uid=self.target.uid if self.target else None)
        return self._transmit(apdu)

    def _transmit(self, apdu: bytes) -> bytes:
        rc, response = self._scard(scard.SCardTransmit, self._card, self._protocol, list(apdu))
        if rc != scard.SCARD_S_SUCCESS:
            self._fail(rc, "exchanging an APDU")
        return bytes(response)

    def _disconnect(self, quiet: bool = False) -> None:
        card, self._card = self._card, None
        self._session_open = False
        if card is None:
            return
        try:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        except Exception:  # the handle may already be dead
            if not quiet:
                log.debug("disconnect from %s failed", self.reader_name, exc_info=True)
