"""A daemon configuration for tests: one mock reader, a JSON lines forwarder, no registry."""

from __future__ import annotations

from pathlib import Path


def config(tmp_path: Path, extra_readers: str = "", reader: str = "mock:ctl-rig") -> Path:
    """``tmp_path/c.toml``: reader "rig" at *reader*, taps to ``tmp_path/taps.jsonl``."""
    path = tmp_path / "c.toml"
    path.write_text(f"""
[station]
name = "st"
data_dir = "{tmp_path}"
[registry]
url = "none"
[[readers]]
name = "rig"
url = "{reader}"
retap_window = 0.0
{extra_readers}
[[forwarders]]
type = "jsonl"
name = "file"
path = "{tmp_path / "taps.jsonl"}"
""")
    return path
