"""One conformance suite for every reader: the same tests, unchanged, on the mock reader, on
nfcpy over the PN532 emulator and on pyscard over pcscd + vpcd (``rig`` is parametrized over
the three), plus a real reader with ``pytest --reader URL``.

What it proves: reading, writing and permanently locking behave identically on every
reader, and every error the CLI documents is raised as the same exception type whichever
reader the tag is on.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import ndef
import pytest
from click.testing import CliRunner

from drivers import open_reader
from drivers.emulated.chip import EmulatedTag, Fault
from drivers.errors import (
    NdefTooLarge,
    NoTag,
    ReaderBusy,
    ReaderNotFound,
    TagGone,
    TagLocked,
    TagUnsupported,
)
from drivers.lockbits import LockLevel
from drivers.signature import Verdict
from nfcbridge.cli.main import cli

URI = "https://kvitto.example.se/t/abcdefghijkl"  # 40 characters
NXP_UID = bytes.fromhex("04E10CDA993C80")  # a published NXP sample pair (test_signature.py)
NXP_SIG = bytes.fromhex("8B76052EE42F5567BEB53238B3E3F9950707C0DCC956B5C5EFCFDB709B2D82B3")


def uris(ntag) -> list[str]:
    return [r.iri for r in ntag.read_ndef().records]


def wrote_anything(tag: EmulatedTag) -> bool:
    return any(c[0] in (0xA2, 0xA0) for c in tag.log)


def cli_run(tmp_path, *args: str):
    env = {"NFCBRIDGE_DATA_DIR": str(tmp_path), "NFCBRIDGE_CONFIG": ""}
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


# -- reading and writing ---------------------------------------------------------------------
@pytest.mark.parametrize("product", ["NTAG213", "NTAG215", "NTAG216"])
def test_info_of_a_blank_tag(rig, product):
    tag = EmulatedTag(product)
    info = rig.ntag(tag).info()
    assert info.uid == tag.uid and info.product.name == product
    assert info.lock.level is LockLevel.UNLOCKED
    assert info.ndef.formatted and info.ndef.records == []
    assert info.ndef.capacity > 130
    assert info.verdict is Verdict.TEST_KEY and not info.genuine


def test_write_uri_and_read_back_after_reselect(rig):
    tag = EmulatedTag("NTAG213")
    ntag = rig.ntag(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    assert uris(rig.again(ntag)) == [URI]


def test_write_text_and_read_back_on_a_fresh_presentation(rig):
    tag = EmulatedTag("NTAG215")
    rig.ntag(tag).write_ndef([ndef.TextRecord("Kvittens för dörren", "sv")])
    (record,) = rig.put_back(tag).read_ndef().records
    assert (record.text, record.language) == ("Kvittens för dörren", "sv")


def test_long_message_with_three_byte_length(rig):
    tag = EmulatedTag("NTAG215")
    data = bytes(range(256)) + b"receipt" * 4
    rig.ntag(tag).write_ndef([ndef.Record("urn:nfc:ext:example.se:blob", data=data)])
    assert rig.put_back(tag).read_ndef().records[0].data == data


# -- locking -----------------------------------------------------------------------------------
def test_lock_and_verify_after_reselect(rig):
    tag = EmulatedTag("NTAG213")
    ntag = rig.ntag(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    state = ntag.lock_permanently()
    assert state.level is LockLevel.LOCKED and state.cfglck
    again = rig.put_back(tag)
    assert again.lock_state().level is LockLevel.LOCKED
    assert uris(again) == [URI]


def test_after_lock_writes_to_user_cc_lock_and_cfg_pages_fail_and_ndef_still_reads(rig):
    tag = EmulatedTag("NTAG213")
    ntag = rig.ntag(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    ntag.lock_permanently()
    ntag = rig.put_back(tag)
    for page in (3, 4, 0x0F, 0x10, 0x27, 0x29, 0x2A):  # CC, user memory, CFG0, CFG1
        before = tag.page(page)
        with pytest.raises(TagLocked):
            ntag.write_page(page, bytes(4) if page == 3 else b"\xff" * 4)
        assert tag.page(page) == before
    for page in (2, 0x28):  # lock bytes: one-time programmable, cannot be cleared
        before = tag.page(page)
        with contextlib.suppress(TagLocked):
            ntag.write_page(page, bytes(4))
        assert tag.page(page) == before
    assert uris(rig.again(ntag)) == [URI]


def test_write_to_a_locked_tag_is_refused_before_writing(rig):
    tag = EmulatedTag("NTAG213")
    ntag = rig.ntag(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    ntag.lock_permanently()
    ntag = rig.put_back(tag)
    tag.log.clear()
    with pytest.raises(TagLocked):
        ntag.write_ndef([ndef.TextRecord("ny")])
    assert not wrote_anything(tag)


def test_lock_interrupted_is_reported_truthfully_and_can_be_completed(rig):
    # 1 GET_VERSION, 2 FAST_READ, 3-13 WRITE NDEF, 14 verify, 15 CC, 16 dynamic lock
    tag = EmulatedTag("NTAG213", faults=[Fault("remove", 16)])
    ntag = rig.ntag(tag)
    ntag.write_ndef([ndef.UriRecord(URI)])
    with pytest.raises(TagGone):
        ntag.lock_permanently()
    assert ntag.irreversible_attempted
    again = rig.put_back(tag)
    state = again.lock_state()
    assert state.level is LockLevel.PARTLY and state.cc_read_only and not any(state.static)
    assert uris(again) == [URI]
    assert again.lock_permanently().level is LockLevel.LOCKED


# -- every error -------------------------------------------------------------------------------
def test_absent_reader_is_not_found(rig):
    if rig.backend.absent_url is None:
        pytest.skip("an in-process mock reader is never absent")
    with pytest.raises(ReaderNotFound):
        open_reader(rig.backend.absent_url).close()


def test_reader_held_by_another_user_is_busy(rig):
    if not rig.backend.can_be_claimed:
        pytest.skip("an in-process mock reader cannot be claimed by another process")
    rig.place(EmulatedTag("NTAG213"))
    rig.reader.wait_for_tag(5)  # this reader now holds the reader (and the card)
    with pytest.raises(ReaderBusy), open_reader(rig.url) as other:
        other.wait_for_tag(2)


def test_no_tag_within_the_timeout(rig):
    with pytest.raises(NoTag):
        rig.reader.wait_for_tag(0.3)


def test_tag_removed_mid_write(rig):
    tag = EmulatedTag("NTAG213", faults=[Fault("remove", 6)])  # the 4th WRITE
    ntag = rig.ntag(tag)
    with pytest.raises(TagGone):
        ntag.write_ndef([ndef.UriRecord(URI)])
    assert rig.put_back(tag).read_ndef().message == b""  # the tear-safe order: still empty


def test_clone_with_non_nxp_vendor_is_unsupported(rig):
    clone = EmulatedTag("NTAG213")
    clone.version = bytes.fromhex("0053040201000F03")
    with pytest.raises(TagUnsupported, match="0x53"):
        rig.ntag(clone).identify()


def test_ultralight_ev1_is_unsupported_for_receipts(rig):
    tag = EmulatedTag("MF0UL21")
    ntag = rig.ntag(tag)
    assert ntag.identify().name == "MF0UL21"
    with pytest.raises(TagUnsupported):
        ntag.write_ndef([ndef.UriRecord(URI)])
    with pytest.raises(TagUnsupported):
        ntag.lock_permanently()
    assert not wrote_anything(tag)


def test_message_larger_than_the_tag(rig):
    tag = EmulatedTag("NTAG213")
    ntag = rig.ntag(tag)
    with pytest.raises(NdefTooLarge):
        ntag.write_ndef([ndef.TextRecord("x" * 200)])
    assert not wrote_anything(tag)


def test_expect_uid_mismatch_through_the_cli(rig, tmp_path):
    tag = rig.place(EmulatedTag("NTAG213"))
    result = cli_run(
        tmp_path, "tag", "lock", "--reader", rig.url, "--yes", "--expect-uid", "04AABBCCDDEEFF"
    )
    assert result.exit_code == 6 and "not the expected" in result.stderr
    assert not wrote_anything(tag)


def test_lock_without_yes_through_the_cli_touches_nothing(rig, tmp_path):
    tag = rig.place(EmulatedTag("NTAG213"))
    result = cli_run(tmp_path, "tag", "lock", "--reader", rig.url)
    assert result.exit_code == 9 and tag.log == []


def test_wrong_signature_shows_not_genuine_in_tag_info(rig, tmp_path):
    rig.place(EmulatedTag("NTAG213", signature=bytes(range(100, 132))))
    result = cli_run(tmp_path, "tag", "info", "--reader", rig.url, "--json", "--timeout", "5")
    info = json.loads(result.stdout)
    assert info["genuine"] is False and info["signature"]["verdict"] == "invalid"


def test_nxp_signed_tag_shows_genuine(rig):
    ntag = rig.ntag(EmulatedTag("NTAG213", uid=NXP_UID, signature=NXP_SIG))
    assert ntag.originality() is Verdict.NXP


# -- a real reader (pytest --reader URL [--allow-lock UID]) -----------------------------------
def test_real_reader_reads_writes_and_reads_back(real_reader):
    from drivers.ntag import Ntag21x

    ntag = Ntag21x(real_reader, real_reader.wait_for_tag(30))
    info = ntag.info()
    if info.lock.level is not LockLevel.UNLOCKED:
        pytest.skip(f"tag {ntag.uid_hex} is {info.lock.level.value}: present a writable one")
    text = f"nfcbridge conformance {uuid.uuid4().hex[:8]}"
    ntag.write_ndef([ndef.TextRecord(text, "en")])
    again = Ntag21x(real_reader, real_reader.reselect())
    assert again.read_ndef().records[0].text == text


def test_real_reader_lock_only_when_allowed(real_reader, allow_lock_uid):
    from drivers.ntag import Ntag21x

    ntag = Ntag21x(real_reader, real_reader.wait_for_tag(30))
    if not allow_lock_uid or bytes.fromhex(allow_lock_uid.replace(":", "")) != ntag.uid:
        pytest.skip(f"locking is permanent: pass --allow-lock {ntag.uid_hex} to lock this tag")
    ntag.write_ndef([ndef.UriRecord(URI)])
    assert ntag.lock_permanently().level is LockLevel.LOCKED
    assert [r.iri for r in Ntag21x(real_reader, real_reader.reselect()).read_ndef().records] == [
        URI
    ]


# -- reading a whole tag ---------------------------------------------------------------------
def test_a_whole_ntag216_reads_with_fast_read(rig):
    tag = EmulatedTag("NTAG216")
    user = tag.product.user_bytes  # 888: every user byte set, the configuration left as is
    tag.memory[16 : 16 + user] = (bytes(range(256)) * 4)[:user]
    ntag = rig.ntag(tag)
    last = tag.product.last_page
    got = ntag.read_pages(0, last, fresh=True)
    hidden = {tag.product.pwd_page, tag.product.pack_page}  # read as zeros by design
    want = b"".join(bytes(4) if p in hidden else tag.page(p) for p in range(last + 1))
    assert got == want
    reads = [c for c in tag.log if c[0] in (0x30, 0x3A)]
    assert reads and all(c[0] == 0x3A for c in reads)  # FAST_READ only, no fallback to READ
    assert ntag.reader.transceive(bytes([0x3A, 0x00, 0x3F])) == bytes(tag.memory[:256])
