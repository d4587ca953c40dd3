"""A tag removed, torn or failing its EEPROM at command k, for every k of a clean provisioning
run (measured from the chip model's log here), is never recorded in stock unless the chip
is fully written, locked and verified; the registry stays consistent; and the same tag
presented again is finished (retry), or refused (spoiled, or already provisioned).

Checks read the chip's memory directly (not through the tag layer under test): CC byte 3
0x0F, static and dynamic lock bytes, CFGLCK, and the NDEF URI carrying the recorded token.
Runs on SQLite and, when marked, on the real PostgreSQL.
"""

from __future__ import annotations

import itertools
import uuid

import ndef
import pytest
from sqlalchemy import func, select

from drivers import open_reader
from drivers.emulated.chip import EmulatedTag, Fault
from drivers.mock import bench
from provisioning import audit
from provisioning.batch import BatchSettings, run_batch
from provisioning.batch_results import TagResult
from provisioning.registry import Registry
from provisioning.schema import tags

OP = "desk-test"
TEMPLATE = "https://kvitto.example.se/t/{token}"
SETTINGS = BatchSettings(uri_template=TEMPLATE, token_bytes=12, tag_timeout=0.05)
WRITE = 0xA2
OUTCOMES = {"provisioned", "spoiled", "retry"}


def present(reg: Registry, tag: EmulatedTag, batch: str) -> TagResult:
    """Place *tag* on a fresh mock reader and take the batch runner's result for it."""
    name = f"f-{uuid.uuid4().hex[:8]}"
    bench(name).place(tag)
    with open_reader(f"mock:{name}") as reader:
        results = run_batch(reader, reg, batch, operator=OP, settings=SETTINGS)
        try:
            return next(results)
        finally:
            results.close()


def ndef_message(tag: EmulatedTag) -> bytes | None:
    """The first NDEF TLV's value, parsed from raw user memory (pages 4...)."""
    memory = bytes(tag.memory[16 : (tag.product.user_last + 1) * 4])
    i = 0
    while i < len(memory):
        kind = memory[i]
        if kind == 0x00:
            i += 1
            continue
        if kind == 0xFE:
            return None
        length = memory[i + 1]
        if kind == 0x03:
            return memory[i + 2 : i + 2 + length]
        i += 2 + length
    return None


def assert_fully_provisioned(tag: EmulatedTag, token: str) -> None:
    p = tag.product
    assert p.dynamic_lock_page is not None and p.lock_all_dynamic is not None
    assert tag.page(3) == p.factory_cc[:3] + b"\x0f"  # CC read-only
    assert tag.page(2)[2:4] == b"\xff\xff"  # static lock bytes
    assert tag.page(p.dynamic_lock_page)[:3] == p.lock_all_dynamic[:3]
    assert tag.page(p.cfg1_page)[0] & 0x40  # CFGLCK
    message = ndef_message(tag)
    assert message is not None
    assert list(ndef.message_decoder(message)) == [ndef.UriRecord(TEMPLATE.format(token=token))]


def assert_nothing_irreversible(tag: EmulatedTag) -> None:
    p = tag.product
    assert p.dynamic_lock_page is not None
    assert tag.page(3) == p.factory_cc
    assert tag.page(2)[2:4] == b"\x00\x00"
    assert tag.page(p.dynamic_lock_page)[:3] == b"\x00\x00\x00"
    assert tag.page(p.cfg1_page)[0] == 0


def irreversible_sent(tag: EmulatedTag) -> bool:
    p = tag.product
    lock_pages = {2, 3, p.dynamic_lock_page, p.cfg1_page}
    return any(c[0] == WRITE and c[1] in lock_pages for c in tag.log)


def clean_run_length(reg: Registry) -> int:
    tag = EmulatedTag("NTAG213")
    result = present(reg, tag, "clean")
    assert result.outcome == "provisioned"
    record = reg.tag(tag.uid)
    assert record.token is not None
    assert_fully_provisioned(tag, record.token)
    return len(tag.log)


def assert_registry_consistent(reg: Registry) -> None:
    assert reg.verify_audit().ok
    for batch in reg.batches():
        with reg.store.read() as conn:
            states = dict(
                conn.execute(
                    select(tags.c.state, func.count())
                    .where(tags.c.batch == batch.name)
                    .group_by(tags.c.state)
                ).all()
            )
        attempts = 0
        for entry in _attempt_entries(reg):
            attempts += entry.details.get("batch") == batch.name
        assert batch.provisioned == states.get("in_stock", 0), batch
        assert batch.spoiled == states.get("spoiled", 0), batch
        assert batch.attempts == attempts, batch


def _attempt_entries(reg: Registry) -> list[audit.AuditEntry]:
    with reg.store.read() as conn:
        return [e for e in audit.entries(conn) if e.action == "tag.attempt_failed"]


@pytest.mark.parametrize("kind", ["remove", "tear", "eeprom"])
def test_a_fault_at_every_command_never_puts_an_unfinished_tag_in_stock(registry, kind):
    total = clean_run_length(registry)
    assert total >= 15  # identify, signature, blank read, NDEF pages, 4 lock writes, verify
    seen = set()
    for k in range(1, total + 1):
        batch = f"{kind}-{k:02d}"
        tag = EmulatedTag("NTAG213", faults=[Fault(kind, k)])
        result = present(registry, tag, batch)
        seen.add(result.outcome)
        record = registry.tag_status(tag.uid)
        assert result.outcome in ("provisioned", "spoiled", "retry"), (k, result)
        if result.outcome == "provisioned":
            assert record is not None and record.state == "in_stock" and record.token
            assert record.batch == batch
            assert_fully_provisioned(tag, record.token)
        elif result.outcome == "spoiled":
            assert record is not None and record.state == "spoiled", (k, result)
            assert irreversible_sent(tag), (k, result)
        else:
            assert record is None, (k, result)
            assert not irreversible_sent(tag), (k, result)
            assert_nothing_irreversible(tag)
        # the same tag, presented again without the fault
        tag.faults = ()
        tag.log.clear()
        again = present(registry, tag, batch)
        if result.outcome == "retry":
            assert again.outcome == "provisioned", (k, again)
            record = registry.tag(tag.uid)
            assert record.token is not None
            assert_fully_provisioned(tag, record.token)
        else:
            assert again.outcome == "refused", (k, again)
            assert ("spoiled" if result.outcome == "spoiled" else "already provisioned") in (
                again.reason
            )
            assert not any(c[0] == WRITE for c in tag.log)  # a refusal writes nothing
    assert_registry_consistent(registry)
    # removal at the last command (the verifying read) already spoils; a tear or an EEPROM
    # fault only bites on writes, so elsewhere the tag is provisioned
    assert seen == ({"spoiled", "retry"} if kind == "remove" else set(OUTCOMES))


@pytest.mark.parametrize("kind", ["remove", "tear", "eeprom"])
def test_every_fault_position_counts_each_tag_once(registry, kind):
    """Batch counters equal the tags and attempt rows behind them, fault after fault."""
    total = clean_run_length(registry)
    outcomes = []
    written_retries = 0
    for k in range(1, total + 1):
        tag = EmulatedTag("NTAG213", faults=[Fault(kind, k)])
        outcomes.append(present(registry, tag, "one-batch").outcome)
        written_retries += outcomes[-1] == "retry" and any(c[0] == WRITE for c in tag.log)
    batch = registry.batch("one-batch")
    assert batch is not None
    assert batch.provisioned == outcomes.count("provisioned")
    assert batch.spoiled == outcomes.count("spoiled")
    assert batch.attempts == written_retries  # an untouched tag needs no attempt row
    assert_registry_consistent(registry)


def test_a_clean_run_is_the_sequence_the_fault_tests_enumerate(registry):
    """The commands of one clean run, in order: what ``total`` above counts."""
    tag = EmulatedTag("NTAG213")
    assert present(registry, tag, "clean").outcome == "provisioned"
    ops = [c[0] for c in tag.log]
    p = tag.product
    assert ops[:3] == [0x60, 0x3C, 0x3A]  # GET_VERSION, READ_SIG, FAST_READ
    lock = [c[1] for c in tag.log if c[0] == WRITE and c[1] in (2, 3, 0x28, p.cfg1_page)]
    assert lock == [3, 0x28, 2, p.cfg1_page]  # CC, dynamic, static, CFGLCK (docs/hardware.md)
    assert ops[-1] == 0x3A  # verify after re-select
    assert list(itertools.takewhile(lambda c: c != WRITE, ops)) == [0x60, 0x3C, 0x3A]
