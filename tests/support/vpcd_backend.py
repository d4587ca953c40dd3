"""The conformance suite's ``pcsc`` backend: pyscard, through our ``PcscReader`` and a real
pcscd with the vpcd driver, talking to a ``VirtualCard`` over the chip model.

pcscd is machine-wide (one per host: its socket and pid file are fixed paths), so this
module shares whatever pcscd is running. If none is, it starts one with ``--auto-exit``:
pcscd then leaves by itself 60 s after its last client, so a test run never has to stop
a pcscd that another test run (another worker, CI) may be using at that moment.

vpcd has two slots ("Virtual PCD 00 00" on TCP 35963, "00 01" on 35964). A slot is taken
with an exclusive ``flock`` so that test processes running side by side never put two
cards in one slot; a slot that shows a card nobody here holds is skipped.

Network exposure: Debian's /etc/reader.conf.d/vpcd says ``DEVICENAME /dev/null:0x8C7B``,
which makes vpcd listen on 0.0.0.0 (INADDR_ANY; vpcd has no bind-address setting in that
mode). The only loopback-only configuration is vpcd's "reversed" mode (DEVICENAME
127.0.0.1:PORT, vpcd connects out to a listening card), which needs a pcscd started with
its own ``-c`` config directory: not done here because pcscd is shared (see above). A
firewall rule (nft/iptables dropping non-loopback traffic to 35963-35964) belongs to the
machine's setup (.ci/run), not to a test.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from smartcard import scard

from drivers.emulated.field import Field
from drivers.emulated.vpcd import REINSERT_GAP, VPCD_PORT, VirtualCard

SLOTS = 2
READY_TIMEOUT = 10.0


class PcscdUnavailable(RuntimeError):
    """pcscd or the vpcd driver is missing on this machine."""


def pcscd_running() -> bool:
    return subprocess.run(["pidof", "pcscd"], capture_output=True).returncode == 0


def ensure_pcscd() -> None:
    """Make sure a pcscd with the vpcd readers is up; start one (auto-exit) if none runs."""
    if not Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists():
        raise PcscdUnavailable("vsmartcard-vpcd is not installed (apt install vsmartcard-vpcd)")
    if not pcscd_running():
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not os.path.exists(binary):
            raise PcscdUnavailable("pcscd is not installed (apt install pcscd)")
        # pcscd daemonizes itself and exits 60 s after its last client is gone.
        subprocess.run([binary, "--auto-exit"], check=False, capture_output=True, timeout=10)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        names = list_readers()
        if any(n.startswith("Virtual PCD") for n in names):
            return
        time.sleep(0.05)
    raise PcscdUnavailable("pcscd runs but shows no 'Virtual PCD' reader (is vpcd configured?)")


def list_readers() -> list[str]:
    rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rc != scard.SCARD_S_SUCCESS:
        return []
    try:
        rc, names = scard.SCardListReaders(context, [])
        return list(names) if rc == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(context)


def reader_state(name: str) -> int:
    """The reader's SCARD_STATE_* bits now (0 when pcscd is unreachable)."""
    rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rc != scard.SCARD_S_SUCCESS:
        return 0
    try:
        rc, states = scard.SCardGetStatusChange(context, 0, [(name, scard.SCARD_STATE_UNAWARE)])
        return int(states[0][1]) if rc in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT) else 0
    finally:
        scard.SCardReleaseContext(context)


def wait_for_state(name: str, present: bool, timeout: float = READY_TIMEOUT) -> float:
    """Block until the reader shows a card (or none); the seconds it took."""
    start = time.monotonic()
    while True:
        state = reader_state(name)
        if bool(state & scard.SCARD_STATE_PRESENT) == present and state:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{name}: card {'present' if present else 'absent'} not seen")
        time.sleep(0.02)


def slot_is_empty(slot: int) -> bool:
    """No card in the slot (a card a previous user just took out leaves within ~0.5 s)."""
    try:
        wait_for_state(f"Virtual PCD 00 {slot:02d}", present=False, timeout=1.5)
    except TimeoutError:
        return False
    return True


@dataclass
class SlotClaim:
    """A vpcd slot held with flock; the lock file keeps the time its last card left."""

    slot: int
    fd: int

    def hung_up_at(self) -> float | None:
        os.lseek(self.fd, 0, os.SEEK_SET)
        text = os.read(self.fd, 64).decode(errors="replace").strip()
        try:
            return float(text)
        except ValueError:
            return None

    def record_hang_up(self, at: float) -> None:
        """CLOCK_MONOTONIC is one clock for the whole machine, so other processes can
        compare with it."""
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.write(self.fd, f"{at:.6f}".encode())


def _slot_path(slot: int) -> Path:
    return Path(tempfile.gettempdir()) / f"nfcbridge-vpcd-slot-{slot}.lock"


def _last_hang_up(slot: int) -> float:
    try:
        return float(_slot_path(slot).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0


@contextmanager
def claim_slot(timeout: float = 60.0) -> Iterator[SlotClaim]:
    """An exclusive, empty vpcd slot, held across processes with flock. The slot whose last
    card left longest ago comes first; if that was under ``REINSERT_GAP`` ago, this waits
    out the rest (pcscd must poll the slot empty between two cards)."""
    deadline = time.monotonic() + timeout
    while True:
        for slot in sorted(range(SLOTS), key=_last_hang_up):
            fd = os.open(_slot_path(slot), os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            claim = SlotClaim(slot, fd)
            if not slot_is_empty(slot):  # someone outside these tests has a card there
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                continue
            left = claim.hung_up_at()
            if left is not None:
                time.sleep(max(0.0, min(left + REINSERT_GAP - time.monotonic(), REINSERT_GAP)))
            try:
                yield claim
                return
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        if time.monotonic() > deadline:
            raise TimeoutError("both vpcd slots stayed busy (other test runs?)")
        time.sleep(0.1)


@contextmanager
def start_card(field: Field) -> Iterator[VirtualCard]:
    """A started VirtualCard in a free vpcd slot; waits until pcscd sees the field's state."""
    ensure_pcscd()
    with claim_slot() as claim:
        card = VirtualCard(field, port=VPCD_PORT + claim.slot)
        try:
            with card:
                if field.tag is not None:
                    wait_for_state(card.reader_name, present=True)
                yield card
        finally:
            if card.hung_up_at is not None:
                claim.record_hang_up(card.hung_up_at)


@contextmanager
def start(field: Field) -> Iterator[str]:
    """Yield the reader URL of a virtual card answering from *field*; stop it after."""
    with start_card(field) as card:
        yield card.reader_url
