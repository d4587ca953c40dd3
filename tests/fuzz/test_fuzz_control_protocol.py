"""The control socket's JSON-lines protocol: any line gets one JSON answer, never an
"internal error", and the server goes on (issue 10: deep nesting, refused ``wait`` and year-1
``at`` got through); every field of a tap request is checked before anything is placed."""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nfcbridge.config import ReaderSettings
from nfcbridge.control import ControlServer, request
from nfcbridge.control_request import ControlError, decode_request, parse_tap_request
from tests.support.fuzz_profile import budget

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELD_VALUES = JSON | st.sampled_from(
    ["04A1B2C3D4E5F6", "04:A1:B2:C3:D4:E5:F6", "ntag215", "NTAG999", "0001-01-01T00:00:00+01:00",
     "2026-11-24T07:58:12Z", "9999-12-31T23:59:59-14:00", "soon", 1e308, -0.0, 2**64]
)  # fmt: skip
TAPS = st.fixed_dictionaries(
    {"op": st.just("tap"), "reader": st.sampled_from(["rig", "door", 5])},
    optional={k: FIELD_VALUES for k in ("uid", "hold", "wait", "at", "product")},
)
LINES = st.one_of(
    st.binary(max_size=200).filter(lambda b: b"\n" not in b),
    TAPS.map(lambda d: json.dumps(d).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
)


@given(LINES)
@example(b"[" * 20000 + b"]" * 20000)  # deep nesting (issue 10)
@example(b'{"op": "tap", "wait": NaN}')
def test_decoding_a_line_raises_only_control_error(line: bytes) -> None:
    with contextlib.suppress(ControlError):
        decode_request(line)


@given(TAPS)
@example({"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6", "wait": None})
@example({"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6", "at": "0001-01-01T00:00+01:00"})
def test_a_tap_request_is_checked_whole_or_refused(req: dict[str, Any]) -> None:
    try:
        tap = parse_tap_request(req)
    except ControlError:
        return
    assert len(tap.uid) == 7 and 0 <= tap.hold <= 60 and 0 <= tap.wait <= 60
    assert tap.at is None or 2000 <= tap.at.year <= 2099


class _Daemon:
    """Readers named, none of them mock: a tap that passes parsing is refused there."""

    def reader_settings(self, name: str) -> ReaderSettings | None:
        return ReaderSettings(name, "serial:/dev/nfcbridge-fuzz-absent") if name else None

    def worker(self, name: str) -> Any:
        raise AssertionError("a tap on a serial reader must be refused before the worker")

    def status(self) -> dict[str, Any]:
        return {"running": True}


@pytest.fixture(scope="module")
def control() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        server = ControlServer(Path(tmp) / "c.sock", _Daemon())
        server.start()
        yield server.path
        server.close()


@settings(max_examples=budget(0.5))
@given(st.lists(LINES, min_size=1, max_size=4))
def test_every_line_on_the_socket_gets_one_answer_and_no_internal_error(
    control: Path, lines: list[bytes]
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(control))
        sock.sendall(b"".join(line + b"\n" for line in lines))
        answers = sock.makefile("rb")
        for _ in lines:
            answer = json.loads(answers.readline())
            assert isinstance(answer["ok"], bool)
            assert "internal error" not in answer.get("error", "")
    assert request(control, {"op": "ping"}) == {"ok": True}
