"""The reference receiver's HTTP handling: any signed body is stored (200) or refused (400)
with a JSON answer, never a dead handler, and whatever was stored can always be reported
(issue 10: seq >= 2^63, lone surrogates, odd anomalies and customers broke it). A real
server on 127.0.0.1:0."""

from __future__ import annotations

import copy
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nfcbridge.receiver.event_schema import EventInvalid, check_event
from nfcbridge.receiver.report import build_report, render_text
from nfcbridge.receiver.server import ReceiverHTTPServer
from nfcbridge.receiver.store import EventStore
from nfcbridge.signing import signed_headers
from tests.support.fuzz_profile import budget
from tests.support.receiver_events import KEY, event

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
TEXT = st.text(max_size=12) | st.text(SURROGATES, min_size=1, max_size=2)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)
PATHS = [
    ("seq",), ("station",), ("reader",), ("occurred_at",), ("origin",), ("anomalies",),
    ("registry",), ("tag",), ("clock_synced",), ("schema",), ("extra",),
    ("tag", "uid"), ("tag", "product"), ("tag", "genuine"),
    ("registry", "state"), ("registry", "customer"), ("registry", "provider"),
]  # fmt: skip
VALUES = JSON | st.sampled_from(
    [2**63, 2**63 - 1, -1, [5], ["unknown_tag"], ["stolen"], ["C-1"], "\ud800",
     "0001-01-01T00:00:00+01:00", "2026-11-24T07:58:12.345Z", "A1B2C3D4"]
)  # fmt: skip


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    ev: dict[str, Any] = copy.deepcopy(event(seq=draw(st.integers(0, 50))))
    ev["event_id"] = str(uuid.uuid4())
    for path in draw(st.lists(st.sampled_from(PATHS), max_size=3)):
        target = ev
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = draw(VALUES)
    return ev


@given(events())
@example({**event(), "seq": 2**63})
@example({**event(), "anomalies": [5]})
@example({**event(), "registry": {"state": "active", "customer": ["C"], "provider": "P"}})
def test_an_event_is_accepted_whole_or_refused_and_accepted_ones_report(
    ev: dict[str, Any],
) -> None:
    try:
        check_event(ev, str(ev["event_id"]))
    except EventInvalid:
        return
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(Path(tmp) / "rx.db")
        try:
            store.add(ev)
            render_text(build_report(store.events()))
        finally:
            store.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[ReceiverHTTPServer]:
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(Path(tmp) / "rx.db")
        server = ReceiverHTTPServer(("127.0.0.1", 0), KEY, store)
        server.start_background()
        yield server
        server.stop()
        store.close()


@settings(max_examples=budget(0.5))
@given(events() | st.binary(max_size=100))
def test_any_signed_body_is_a_200_or_a_400_and_the_report_still_works(
    receiver: ReceiverHTTPServer, body: dict[str, Any] | bytes
) -> None:
    if isinstance(body, dict):
        event_id = str(body["event_id"])
        raw = json.dumps(body, allow_nan=True).encode()
    else:
        event_id, raw = str(uuid.uuid4()), body
    with httpx.Client(timeout=10) as client:
        reply = client.post(receiver.url, content=raw, headers=signed_headers(KEY, event_id, raw))
        assert reply.status_code in (200, 400), reply.text
        assert reply.json()["ok"] is (reply.status_code == 200)
        report = client.get(receiver.url + "report")
        assert report.status_code == 200
        render_text(report.json())
