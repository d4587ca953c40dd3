"""The CLI as the desk and the coordinators meet it: customers named by personnummer (hidden
prompt), scan to attach, waiting readers that say what they wait for (click runner, real
SQLite, mock readers)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from drivers.emulated.chip import EmulatedTag
from drivers.mock import bench
from tests.support.cli import cli_state, stock
from tests.support.cli import run_cli as run

PNR = "19121212-1212"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_state(tmp_path, monkeypatch)


def no_personnummer(text: str) -> bool:
    """No form of PNR in *text* (its digits: 6 of them already say too much)."""
    return "121212" not in text


def data(result: Result) -> Any:
    return json.loads(result.stdout)


def customer_by_prompt(provider: str = "P-1") -> str:
    run("provider", "add", provider, "--name", "Ett")
    return run("customer", "add", "--provider", provider, input=PNR + "\n").stdout.strip()


# -- 1. customers named by personnummer -------------------------------------------------------
def test_customer_find_asks_for_the_personnummer_hidden_and_finds_the_customer(env: Path):
    ref = customer_by_prompt()
    found = run("customer", "find", input=PNR + "\n")
    assert found.stdout.splitlines()[0] == ref
    assert "provider P-1, no active tag" in found.stdout
    assert no_personnummer(found.output)  # the prompt never echoes the number
    assert data(run("customer", "find", "--json", input="191212121212\n"))["ref"] == ref
    missing = run("customer", "find", input="811218-9876\n", code=7)
    assert "no customer with this personnummer" in missing.stderr
    assert "811218" not in missing.output


def test_an_invalid_personnummer_at_the_prompt_is_asked_again_without_echo(env: Path):
    ref = customer_by_prompt()
    found = run("customer", "find", input="19121212-1213\n" + PNR + "\n")
    assert "check digit" in found.stderr and "121212" not in found.output
    assert found.stdout.splitlines()[0] == ref


def test_attach_and_move_take_the_customer_by_personnummer(env: Path):
    ref = customer_by_prompt()
    run("provider", "add", "P-2", "--name", "Två")
    uid = stock(env, 1)[0]
    run("pickup", "--provider", "P-1", "--count", "1")
    attached = data(run("attach", "--tag", uid, "--personnummer", "--json", input=PNR + "\n"))
    assert (attached["state"], attached["customer"]) == ("active", ref)
    moved = data(run("customer", "move", "--personnummer", "--to", "P-2", "--json",
                     input=PNR + "\n"))  # fmt: skip
    assert (moved["ref"], moved["provider"]) == (ref, "P-2")


def test_a_personnummer_given_as_a_reference_is_refused_without_echo(env: Path):
    customer_by_prompt()
    uid = stock(env, 1)[0]
    out = run("attach", "--tag", uid, "--customer", PNR, code=7)
    assert "give --personnummer" in out.stderr and no_personnummer(out.output)


def test_a_short_pseudonym_prefix_says_how_many_digits_are_needed(env: Path):
    ref = customer_by_prompt()
    uid = stock(env, 1)[0]
    short = run("attach", "--tag", uid, "--customer", ref[:11], code=7)
    assert "at least 8 hex digits" in short.stderr


# -- 2. scan to attach ------------------------------------------------------------------------
def provisioned_tags(n: int, batch: str = "roll-a") -> list[EmulatedTag]:
    """*n* emulated tags provisioned by the real command (written, locked, recorded)."""
    made = []
    for _ in range(n):
        name = f"desk-{uuid.uuid4().hex[:6]}"
        tag = bench(name).place(EmulatedTag("NTAG213", uid=b"\x04" + os.urandom(6)))
        run("provision", "--reader", f"mock:{name}", "--batch", batch, "--count",
            str(len(made) + 1), "--yes")  # fmt: skip
        made.append(tag)
    return made


def scan(tag: EmulatedTag) -> str:
    name = f"attach-{uuid.uuid4().hex[:6]}"
    bench(name).place(tag)
    return f"mock:{name}"


def test_attach_reads_the_tag_in_hand_and_checks_it_before_recording(env: Path):
    ref = customer_by_prompt("P-1")
    run("provider", "add", "P-2", "--name", "Två")
    mine, theirs, in_stock = provisioned_tags(3)
    run("pickup", "--provider", "P-1", "--count", "1")
    run("pickup", "--provider", "P-2", "--count", "1")
    uid = mine.uid.hex().upper()

    blank = EmulatedTag("NTAG213", uid=b"\x04" + os.urandom(6))
    out = run("attach", "--reader", scan(blank), "--customer", ref, code=7)
    assert "not in the registry" in out.stderr and "put it aside" in out.stderr
    out = run("attach", "--reader", scan(theirs), "--customer", ref, code=7)
    assert "issued to provider P-2" in out.stderr and "give it back to P-2" in out.stderr
    out = run("attach", "--reader", scan(in_stock), "--customer", ref, code=7)
    assert "still in stock" in out.stderr
    states = {r["state"]: r["tags"] for r in data(run("report", "stock", "--json"))}
    assert states["active"] == 0  # nothing recorded by a refused scan

    done = run("attach", "--reader", scan(mine), "--personnummer", "--json", input=PNR + "\n")
    assert (data(done)["uid"], data(done)["customer"]) == (uid, ref)
    assert "attaching a tag for psn:k1:" in done.stderr


def test_attach_by_scan_refuses_a_tag_that_is_not_locked(env: Path):
    """A copy of a provisioned UID on an unlocked chip (a look-alike) is not put on a door."""
    ref = customer_by_prompt("P-1")
    (real,) = provisioned_tags(1)
    run("pickup", "--provider", "P-1", "--count", "1")
    lookalike = EmulatedTag("NTAG213", uid=real.uid)
    out = run("attach", "--reader", scan(lookalike), "--customer", ref, code=7)
    assert "not locked" in out.stderr
    assert data(run("customer", "find", "--json", input=PNR + "\n"))["active_tag"] is None


# -- 3. a waiting reader says what it waits for, and honours --timeout ------------------------
@pytest.mark.timeout(60)  # today's main waits for the refused tag's removal forever
def test_a_refused_tag_left_on_the_reader_ends_the_run_after_the_timeout(env: Path):
    (known,) = provisioned_tags(1)  # presented again: refused, and left on the reader
    out = run("provision", "--reader", scan(known), "--batch", "roll-b", "--count", "5",
              "--timeout", "0.3", "--yes", code=5)  # fmt: skip
    assert "refused" in out.stderr
    assert "take the tag off the reader" in out.stderr
    assert "stayed on the reader for 0.3 s; take it off" in out.stderr


def test_an_empty_reader_says_to_put_a_tag_on(env: Path):
    name = f"empty-{uuid.uuid4().hex[:6]}"
    out = run("provision", "--reader", f"mock:{name}", "--batch", "roll-c", "--count", "1",
              "--timeout", "0.3", "--yes", code=5)  # fmt: skip
    assert "put the next tag on the reader (waiting up to 0.3 s)" in out.stderr


# -- 4. outcome messages say what to do with the tag in hand ----------------------------------
def test_a_spoiled_tag_is_put_aside_with_the_reason_and_no_page_list(env: Path):
    url = "mock:spoil-1?roll=ntag213&count=1&fault=remove@20"  # gone during the lock writes
    out = run("provision", "--reader", url, "--batch", "roll-d", "--yes", "--timeout", "0.05")
    (line,) = [ln for ln in out.stderr.splitlines() if ln.startswith("spoiled")]
    assert "put this tag aside, it can never be used" in line
    assert "its permanent lock had begun when the tag left the reader mid-way" in line
    assert "page" not in line and "CFGLCK" not in line
    summary = run("provision", "--reader", "mock:spoil-2?roll=ntag213&count=1&fault=remove@20",
                  "--batch", "roll-e", "--yes", "--timeout", "0.05", "--json")  # fmt: skip
    (tag,) = data(summary)["tags"]
    assert tag["advice"].startswith("put this tag aside") and tag["writes_sent"]


@pytest.mark.timeout(30)  # today's main waits for the refused tag's removal forever
def test_a_tag_presented_twice_goes_back_with_the_provisioned_tags(env: Path):
    (known,) = provisioned_tags(1)
    out = run("provision", "--reader", scan(known), "--batch", "roll-f", "--count", "1",
              "--timeout", "0.05", "--yes", code=5)  # fmt: skip
    assert "put it back with the provisioned tags" in out.stderr


# -- 5. batches: counted across resumes, none left empty --------------------------------------
@pytest.mark.timeout(30)
def test_a_run_in_which_every_tag_was_refused_leaves_no_batch(env: Path):
    (known,) = provisioned_tags(1, batch="roll-a")
    out = run("provision", "--reader", scan(known), "--batch", "roll-empty", "--count", "3",
              "--timeout", "0.05", "--yes", code=5)  # fmt: skip
    assert "nothing recorded: batch roll-empty was not created" in out.stdout
    assert [b["name"] for b in data(run("report", "batches", "--json"))] == ["roll-a"]
    run("provision", "--reader", "mock:nothing-here", "--batch", "roll-none", "--count", "1",
        "--timeout", "0.05", "--yes", code=5)  # fmt: skip
    assert [b["name"] for b in data(run("report", "batches", "--json"))] == ["roll-a"]


# -- 6. tag history in words, failed attempts included ----------------------------------------
def test_tag_history_shows_failed_attempts_in_words(env: Path):
    url = "mock:attempt-1?roll=ntag213&count=1&fault=remove@12"  # gone after the NDEF write
    out = run("provision", "--reader", url, "--batch", "roll-h", "--yes", "--timeout", "0.05",
              "--json")  # fmt: skip
    (tag,) = data(out)["tags"]
    assert tag["outcome"] == "retry"
    history = run("tag", "history", tag["uid"]).stdout
    assert "not in the registry; 1 failed provisioning attempt" in history
    assert "failed attempt: in batch roll-h: the tag left the reader mid-way" in history
    assert "done: identified, signature, blank" in history
    assert "tag.attempt_failed" not in history and "['" not in history
    assert data(run("tag", "history", tag["uid"], "--json"))["tag"] is None


def test_tag_history_of_a_tag_on_a_door_reads_as_its_life(env: Path):
    ref = customer_by_prompt("P-1")
    (tag,) = provisioned_tags(1)
    uid = tag.uid.hex().upper()
    run("pickup", "--provider", "P-1", "--count", "1")
    run("attach", "--tag", uid, "--customer", ref)
    lines = run("tag", "history", uid).stdout.splitlines()
    assert lines[0] == f"tag {uid}: active (provider P-1, customer {ref})"
    assert [ln.split("desk-cecilia")[1].split(":")[0].strip() for ln in lines[1:]] == [
        "provisioned",
        "picked up",
        "put on a door",
    ]
    assert "tag.issued" not in "\n".join(lines)


# -- 7. a quota refusal explains the allowance -------------------------------------------------
def test_a_quota_refusal_says_how_the_allowance_is_made_and_what_to_do(env: Path):
    customer_by_prompt("P-1")  # one customer without a tag; default policy 1 per customer + 2
    stock(env, 5)
    run("pickup", "--provider", "P-1", "--count", "2")
    out = run("pickup", "--provider", "P-1", "--count", "2", code=7)
    (line,) = out.stderr.splitlines()
    assert "provider P-1 may hold 1 more unattached tag; 2 requested" in line
    assert (
        "Allowance = 1 customers needing a tag x 1 per customer + 2 spare - 2 held unattached"
        " = 1 (the default policy)" in line
    )
    assert "`attach`" in line and "provider policy P-1 --spare N" in line


def test_a_spot_check_takes_the_customer_by_personnummer(env: Path):
    ref = customer_by_prompt("P-1")
    (tag,) = provisioned_tags(1)
    run("pickup", "--provider", "P-1", "--count", "1")
    run("attach", "--reader", scan(tag), "--personnummer", input=PNR + "\n")
    out = run("tag", "check", "--reader", scan(tag), "--personnummer", "--json", input=PNR + "\n")
    assert (data(out)["customer"], data(out)["passed"]) == (ref, True)
    assert no_personnummer(out.output)


@pytest.mark.timeout(60)  # today's main re-reads a tag left on the reader forever
def test_a_pickup_scan_asks_for_the_tag_off_and_stops_when_it_stays(env: Path):
    run("provider", "add", "P-5", "--name", "Fem", "--spare", "3")
    uid = stock(env, 1)[0]
    name = f"pickup-{uuid.uuid4().hex[:6]}"
    bench(name).place(EmulatedTag("NTAG213", uid=bytes.fromhex(uid)))  # and left there
    out = run("pickup", "--provider", "P-5", "--reader", f"mock:{name}", "--timeout", "0.3",
              "--json")  # fmt: skip
    assert data(out)["uids"] == [uid]
    assert "take the tag off the reader" in out.stderr
    assert "stayed on the reader for 0.3 s" in out.stderr


def test_tag_info_on_an_empty_reader_says_to_put_the_tag_on(env: Path):
    out = run("tag", "info", "--reader", f"mock:none-{uuid.uuid4().hex[:6]}", "--timeout", "0.1",
              code=5)  # fmt: skip
    assert "put the tag on mock:none-" in out.stderr and "(waiting up to 0.1 s)" in out.stderr


def test_no_personnummer_typed_is_a_usage_error_not_a_crash(env: Path):
    customer_by_prompt()
    out = run("customer", "find", input="", code=2)
    assert "no personnummer typed" in out.output
