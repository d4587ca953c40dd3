"""Lines from serial UID-line readers: any bytes give a 4-, 7- or 10-byte UID or a
``UidLineError``; what a reader prints for a UID, in every documented format, reads back."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from drivers.uidline import FORMATS, UID_LENGTHS, UidLineError, parse_uid_line

UIDS = st.sampled_from(UID_LENGTHS).flatmap(lambda n: st.binary(min_size=n, max_size=n))
DIGITY = st.text(alphabet="0123456789abcdefABCDEFxX:- .\t\x02\x03uidUID=#", max_size=60)


@given(st.binary(max_size=300) | DIGITY | st.text(max_size=60), st.sampled_from(FORMATS))
@example("9" * 5000, "auto")  # thousands of digits (issue 10)
@example("9" * 5000, "decimal-reversed")
@example("0x" + "f" * 5000, "hex")
def test_any_line_is_a_uid_or_a_uid_line_error(line: str | bytes, fmt: str) -> None:
    try:
        uid = parse_uid_line(line, fmt)
    except UidLineError:
        return
    assert len(uid) in UID_LENGTHS


@given(UIDS, st.sampled_from([":", " ", "-", ""]), st.booleans(), st.sampled_from(["", "UID: "]))
def test_a_printed_hex_uid_reads_back(uid: bytes, sep: str, upper: bool, label: str) -> None:
    text = sep.join(f"{b:02X}" if upper else f"{b:02x}" for b in uid)
    assert parse_uid_line(f"\x02{label}{text}\x03\r\n", "hex") == uid
    assert parse_uid_line(label + sep.join(f"{b:02X}" for b in uid[::-1]), "hex-reversed") == uid


@given(UIDS.filter(lambda u: u[0] != 0))
def test_a_printed_decimal_uid_reads_back(uid: bytes) -> None:
    width = {4: 10, 7: 17, 10: 25}[len(uid)]
    number = int.from_bytes(uid, "big")
    assert parse_uid_line(str(number).zfill(width), "decimal") == uid
