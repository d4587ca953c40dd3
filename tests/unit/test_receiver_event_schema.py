"""The receiver validates a signed event's schema before storing it, so a stored event can
always be reported: each body here killed the handler, or was stored and then broke
`GET /report` and `receiver report` for good, on an earlier main (issue 10). Real HTTP on
127.0.0.1:0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.receiver.server import ReceiverHTTPServer
from tests.support.loopback_http import LOOPBACK
from tests.support.receiver_events import event, post, post_raw, server  # noqa: F401

BAD = [
    {"seq": 2**63},
    {"seq": -1},
    {"seq": 1.5},
    {"reader": "s\ud800"},
    {"tag": {"uid": "04A1B2C3D4E5F6", "product": "\udfff"}},
    {"anomalies": [5]},
    {"anomalies": ["stolen"]},
    {"anomalies": [{"kind": "unknown"}]},
    {"registry": {"state": "active", "customer": ["C-1"], "provider": "P-01"}},
    {"registry": {"state": 1, "customer": "C-1", "provider": "P-01"}},
    {"registry": {"state": "active", "customer": "C-1", "provider": {"p": 1}}},
    {"tag": {"uid": 4}},
    {"tag": {"uid": "not hex"}},
    {"tag": {"uid": "04A1B2C3D4E5F6", "genuine": "yes"}},
    {"station": ""},
    {"station": "x" * 1000},
    {"clock_synced": "no"},
    {"occurred_at": "0001-01-01T00:00:00+01:00"},
    {"occurred_at": "9999-12-31T23:59:59-01:00"},
    {"note": float("nan")},
    {"deep": [[[[[[[[[[[]]]]]]]]]]]},
]


@pytest.mark.parametrize("change", BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_signed_event_with_a_bad_field_is_a_400_and_the_report_still_works(
    server: ReceiverHTTPServer,  # noqa: F811
    change: dict[str, object],
) -> None:
    assert post(server, event(seq=1)).status_code == 200
    bad = {**event(seq=2), **change}
    raw = json.dumps(bad).encode()  # lone surrogates go out as \ud800 escapes, NaN as NaN
    reply = post_raw(server, str(bad["event_id"]), raw)
    assert reply.status_code == 400, reply.text
    assert reply.json()["ok"] is False
    assert server.store.count() == 1
    report = LOOPBACK.get(server.url + "report")
    assert report.status_code == 200 and report.json()["events"] == 1


def test_every_event_the_daemon_writes_is_accepted(server: ReceiverHTTPServer) -> None:  # noqa: F811
    from datetime import UTC, datetime

    from nfcbridge.events import RegistryFacts, TagFacts, TapEvent, new_event_id

    for anomalies, registry, uid in [
        ((), RegistryFacts("active", "psn:k1:ab", "P-01"), "04A1B2C3D4E5F6"),
        (("unknown_tag",), None, "A1B2C3D4"),
        (("registry_unavailable",), None, "04A1B2C3D4E5F6A7B8C9"),
        (("retired_tag", "not_genuine"), RegistryFacts("retired", None, None), "04A1B2C3D4E5F6"),
    ]:
        ev = TapEvent(
            new_event_id(), "st", "desk", datetime.now(UTC), TagFacts(uid), "reader", True,
            seq=1, registry=registry, anomalies=anomalies,
        )  # fmt: skip
        raw = ev.to_json().encode()
        assert post_raw(server, ev.event_id, raw).status_code == 200


def test_receiver_report_reads_the_store_after_refused_events(
    server: ReceiverHTTPServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    assert post(server, event(seq=1)).status_code == 200
    for change in BAD[:10]:
        bad = {**event(seq=2), **change}
        post_raw(server, str(bad["event_id"]), json.dumps(bad).encode())
    result = CliRunner().invoke(cli, ["receiver", "report", "--db", server.store.path, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 1
