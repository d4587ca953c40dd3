"""The read-only checks that decide whether a presented tag is taken into a batch.

Nothing here writes to a tag or to the registry: a tag that fails a check is *refused*
(``Refused`` carries the reason shown to the operator) and stays untouched. In order::

    registry lookup (``known_refusal``) -> identify (GET_VERSION) -> originality (READ_SIG)
    -> blank, or a retry of an earlier attempt of ours (``may_retry``)

The originality signature is read once, here, before any write, so a clone is refused while
it is still blank. It is factory data that no command can change, and the re-select after
locking re-checks the UID, so reading it again after the lock would cost a command (about
20 ms on a USB reader) and prove nothing new.
"""

from __future__ import annotations

from drivers.base import Reader, Target
from drivers.errors import TagLocked, TagNak
from drivers.errors import TagUnsupported as ChipUnsupported
from drivers.ntag import Ntag21x
from drivers.signature import Verdict
from provisioning.batch_token import BatchSettings
from provisioning.errors import RegistryError
from provisioning.records import TagRecord
from provisioning.registry import Registry

KNOWN_DATE = "%Y-%m-%d"


class TracedTag(Ntag21x):
    """The tag layer, remembering every page write it sent (for the spoiled record)."""

    def __init__(self, reader: Reader, target: Target) -> None:
        super().__init__(reader, target)
        self.writes: list[int] = []
        self.verdict: Verdict | None = None

    def write_page(self, page: int, data: bytes) -> None:
        self.writes.append(page)
        super().write_page(page, data)

    def write_names(self) -> list[str]:
        p = self.product
        names = {2: "static lock", 3: "CC"}
        if p is not None:
            names[p.cfg1_page] = "CFGLCK"
            if p.dynamic_lock_page is not None:
                names[p.dynamic_lock_page] = "dynamic lock"
        return [names.get(page, f"page {page}") for page in self.writes]


class Refused(RegistryError):
    """The tag is not taken; the message says why. Nothing was written."""


def check_tag(
    tag: TracedTag,
    steps: list[str],
    *,
    registry: Registry,
    settings: BatchSettings,
    on_mock: bool,
) -> tuple[Verdict, bool]:
    """The chip checks: (originality verdict, whether this finishes an earlier attempt).

    Appends each check passed to *steps*; raises ``Refused`` at the first one failed."""
    try:
        product = tag.identify()
    except ChipUnsupported as exc:
        raise Refused(f"unsupported or clone: {exc}") from None
    steps.append("identified")
    if not product.is_ntag or not product.has_cfglck or product.dynamic_lock_page is None:
        raise Refused(f"unsupported product {product.name}: receipt tags are NTAG21x")
    verdict = tag.verdict = tag.originality()
    steps.append("signature")
    if why := signature_refusal(verdict, settings, on_mock=on_mock):
        raise Refused(why)
    try:
        if tag.is_blank():
            steps.append("blank")
            return verdict, False
        if may_retry(tag, registry):
            steps.append("retry")
            return verdict, True
    except (TagNak, TagLocked) as exc:
        raise Refused(f"not blank: {exc}") from None
    raise Refused("not blank (written, locked or configured before), and no earlier attempt")


def signature_refusal(verdict: Verdict, settings: BatchSettings, *, on_mock: bool) -> str | None:
    """Why the originality *verdict* refuses the tag, or None. The emulator's test key is
    accepted on the mock reader (or when configured), never silently on a real one."""
    if verdict is Verdict.NXP:
        return None
    if verdict is Verdict.TEST_KEY:
        if on_mock or settings.accept_test_signatures:
            return None
        return "signed with the emulator test key on a real reader: a clone"
    if not settings.require_genuine:
        return None
    return f"not genuine: originality signature {verdict.value}"


def may_retry(tag: TracedTag, registry: Registry) -> bool:
    """A tag that an earlier attempt of ours wrote to, with nothing irreversible sent
    (per the registry) and nothing irreversible on the chip either."""
    history = registry.history(tag.uid)
    last = history[-1] if history else None
    if last is None or last.action != "tag.attempt_failed" or last.details.get("irreversible"):
        return False
    return tag.is_factory_configured()


def known_refusal(record: TagRecord) -> str:
    """Why a UID already in the registry is refused, from its history."""
    day = record.created_at.strftime(KNOWN_DATE)
    batch = f"batch {record.batch}" if record.batch else "the registry"
    if record.state == "spoiled":
        return f"spoiled in {batch} on {day}: never usable again"
    if record.state == "retired":
        ended = record.ended_at.strftime(KNOWN_DATE) if record.ended_at else "?"
        return f"retired on {ended} (provisioned in {batch} on {day})"
    where = {"issued": f", now issued to {record.provider}", "active": ", now on a door"}
    return f"already provisioned in {batch} on {day}{where.get(record.state, '')}"
