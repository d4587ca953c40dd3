"""The daemon configuration of a test rig, written from its scenario (``rig config``).

One ``[[readers]]`` block per staff reader (a ``mock:`` reader each: the rig's phones), the
rig's own registry, and one webhook forwarder to the receiver, as the README's rig section
describes. ``retap_window`` stays below the replay's ``--retap-gap`` (default 2.5 s).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nfcbridge.rig.scenario import Scenario


@dataclass(frozen=True)
class RigConfig:
    data_dir: str = "rig"
    registry: str = ""  # empty: sqlite:///<data_dir>/registry.db
    receiver: str = "http://127.0.0.1:8080/"
    secret_file: str = "whsec.txt"
    retap_window: float = 0.1


def _value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string or number is valid TOML


def render_rig_config(scenario: Scenario, options: RigConfig) -> str:
    registry = options.registry or f"sqlite:///{options.data_dir}/registry.db"
    readers = sorted({s.reader for s in scenario.staff.values()})
    lines = [
        f"# daemon configuration for the test rig of scenario {scenario.name!r}",
        f"# ({len(readers)} staff readers); written by `nfcbridge rig config`",
        "",
        "[station]",
        f"name = {_value(scenario.station)}",
        f"data_dir = {_value(options.data_dir)}",
        "",
        "[registry]",
        f"url = {_value(registry)}",
    ]
    for name in readers:
        lines += [
            "",
            "[[readers]]",
            f"name = {_value(name)}",
            f"url = {_value('mock:' + name)}",
            f"retap_window = {_value(options.retap_window)}",
        ]
    lines += [
        "",
        "[[forwarders]]",
        'type = "webhook"',
        'name = "receiver"',
        f"url = {_value(options.receiver)}",
        f"secret_file = {_value(options.secret_file)}",
    ]
    return "\n".join(lines) + "\n"
