"""Config files: any TOML (and any bytes) gives settings or one ``ConfigError`` naming the
file; accepted settings are printed by ``config show`` as TOML that reads back to the same
settings (issue 10: NaN, inf and out-of-range values were accepted, and shown as non-TOML)."""

from __future__ import annotations

import dataclasses
import math
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from nfcbridge.cli.main import render_toml
from nfcbridge.config import Settings, load_settings, settings_as_dict
from nfcbridge.errors import ConfigError

SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["webhook", "mqtt", "jsonl", "json", "debug", "mock:desk", "http://h/"]),
)
KEYS = {
    "station": ["name", "data_dir"],
    "provisioning": ["token_bytes", "tag_timeout", "require_genuine", "uri_template"],
    "quota": ["per_customer", "spare"],
    "outbox": ["keep_days", "path"],
    "metrics": ["listen"],
    "control": ["socket"],
    "logging": ["format", "level"],
}
ARRAYS = {
    "readers": ["name", "url", "retap_window", "signal"],
    "forwarders": [
        "type", "name", "url", "secret_file", "timeout", "host", "port", "topic", "path",
        "max_backoff", "batch_size",
    ],
}  # fmt: skip


def toml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    escaped = "".join(
        c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}" for c in value
    )
    return f'"{escaped}"'


@st.composite
def toml_files(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for table in draw(st.lists(st.sampled_from([*KEYS, "bogus"]), unique=True, max_size=4)):
        lines.append(f"[{table}]")
        for key in draw(st.lists(st.sampled_from(KEYS.get(table, ["x"])), unique=True)):
            lines.append(f"{key} = {toml_scalar(draw(SCALARS))}")
    for array, keys in ARRAYS.items():
        for _ in range(draw(st.integers(0, 2))):
            lines.append(f"[[{array}]]")
            for key in draw(st.lists(st.sampled_from(keys), unique=True)):
                lines.append(f"{key} = {toml_scalar(draw(SCALARS))}")
    return "\n".join(lines) + "\n"


def _settings_equal(a: Settings, b: Settings) -> bool:
    return dataclasses.replace(a, source="") == dataclasses.replace(b, source="")


@given(toml_files() | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
@example('[[forwarders]]\ntype = "jsonl"\nname = "f"\npath = "/tmp/x"\nbatch_size = 0\n')
@example("[[readers]]\nname = 'd'\nurl = 'mock:d'\nretap_window = nan\n")
@example("[[forwarders]]\ntype = 'mqtt'\nname = 'm'\nport = 99999\n")
@example('[station]\nname = "\\u007f"\n')
@example("[[readers]]\nname = ''\nretap_window = -1\nurl = ''\n")  # found: an int for a float
@example('[station]\ndata_dir = "\\U0000000a"\n')  # found: a newline in a derived path
def test_any_config_file_gives_settings_or_one_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            settings = load_settings(path)
        except ConfigError as exc:
            assert str(exc).startswith(str(path))
            return
        shown = render_toml(settings_as_dict(settings))
        tomllib.loads(shown)  # config show prints TOML
        again = Path(tmp) / "shown.toml"
        again.write_text(shown, encoding="utf-8")
        assert _settings_equal(load_settings(again), settings)
