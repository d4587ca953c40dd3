"""The mock reader is a real driver chosen by URL: tags from the URL, shared benches,
rolls of blank tags, and hardware-like failures."""

from __future__ import annotations

import pytest

from drivers import Capability, make_reader, open_reader
from drivers.emulated.chip import EmulatedTag
from drivers.errors import CapabilityMissing, NoTag, ReaderURLError, TagGone
from drivers.mock import bench


def test_tag_from_url_has_the_given_uid_and_product() -> None:
    with open_reader("mock:m1?tag=ntag215&uid=04E10CDA993C80") as reader:
        target = reader.wait_for_tag(timeout=1)
        assert target.uid_hex == "04E10CDA993C80"
        assert reader.transceive(b"\x60")[6] == 0x11  # NTAG215 storage size


def test_tags_placed_on_the_bench_are_seen_by_the_reader() -> None:
    with open_reader("mock:m2") as reader:
        assert reader.poll() is None
        tag = bench("m2").place(EmulatedTag("NTAG213"))
        assert reader.wait_for_tag(timeout=1).uid == tag.uid
        bench("m2").remove()
        assert reader.wait_for_removal(timeout=1)


def test_roll_presents_a_fresh_tag_after_each_removal_then_runs_out() -> None:
    with open_reader("mock:m3?roll=ntag213&count=3") as reader:
        seen = []
        for _ in range(3):
            seen.append(reader.wait_for_tag(timeout=1).uid)
            assert reader.wait_for_removal(timeout=1)
        assert len(set(seen)) == 3
        with pytest.raises(NoTag):
            reader.wait_for_tag(timeout=0.05)


def test_removed_tag_is_silence_raised_as_tag_gone() -> None:
    with open_reader("mock:m4?tag=ntag213&fault=remove@2") as reader:
        reader.wait_for_tag(timeout=1)
        reader.transceive(b"\x60")
        with pytest.raises(TagGone) as info:
            reader.transceive(b"\x60")
        assert info.value.uid is not None
        with pytest.raises(TagGone):
            reader.reselect()


def test_signal_is_recorded_on_the_bench() -> None:
    with open_reader("mock:m5") as reader:
        assert Capability.SIGNAL in reader.capabilities
        reader.signal(True)
    assert bench("m5").signals == [True]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mock:", "needs a name"),
        ("mock:x?tag=ntag999", "unknown tag product"),
        ("mock:x?tag=ntag213&uid=04zz", "not hex"),
        ("mock:x?tag=ntag213&uid=0401", "7 bytes"),
        ("mock:x?tag=ntag213&fault=boom@1", "bad fault"),
        ("bogus:x", "unknown reader scheme 'bogus'"),
    ],
)
def test_bad_mock_urls_are_refused_before_opening(url: str, message: str) -> None:
    with pytest.raises(ReaderURLError, match=message):
        make_reader(url)


def test_serial_like_reader_without_transceive_refuses_commands() -> None:
    reader = make_reader("mock:m6")
    reader.capabilities = frozenset()  # type: ignore[misc]
    with reader, pytest.raises(CapabilityMissing):
        reader.transceive(b"\x60")


def test_close_is_idempotent_and_safe_before_open() -> None:
    reader = make_reader("mock:m7")
    reader.close()
    reader.close()


def test_a_tag_swapped_in_ends_the_first_tags_presentation() -> None:
    with open_reader("mock:m8") as reader:
        first = bench("m8").place(EmulatedTag("NTAG213"))
        reader.wait_for_tag(timeout=1)
        bench("m8").place(EmulatedTag("NTAG213"))  # no empty field in between
        assert reader.wait_for_removal(timeout=30, uid=first.uid)
        assert not reader.wait_for_removal(timeout=0.01)  # the second tag is still there
