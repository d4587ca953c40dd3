"""`nfcbridge sun verify` gives the note's uid and counter, exit 10 for a changed MAC bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli

URL_PICC = "https://ntag.nxp.com/424?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086"
URL_FILE = (
    "https://www.my424dna.com/?picc_data=FD91EC264309878BE6345CBE53BADF40"
    "&enc=CEE9A53E3E463EF1F459635736738962&cmac=ECC1E7F6C6C73BF6"
)
URL_PLAIN = "https://sdm.nfcdeveloper.com/tagpt?uid=041E3C8A2D6B80&ctr=000006&cmac=4B00064004B0B3D3"

CASES = [
    (URL_PICC, ["--picc-param", "e", "--mac-param", "c"], "04DE5F1EACC040", 61, None),
    (URL_FILE, [], "04958CAA5C5E80", 8, "78" * 16),
    (URL_PLAIN, ["--uid-param", "uid", "--ctr-param", "ctr"], "041E3C8A2D6B80", 6, None),
]


@pytest.fixture
def keys(tmp_path: Path) -> list[str]:
    key = tmp_path / "zero.key"
    key.write_text("00" * 16 + "\n")
    return ["--meta-key-file", str(key), "--file-key-file", str(key)]


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sun", "verify", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("url", "extra", "uid", "counter", "file_data"), CASES)
def test_sun_verify_prints_the_uid_and_counter_of_the_note(
    keys: list[str], url: str, extra: list[str], uid: str, counter: int, file_data: str | None
) -> None:
    code, out, err = run([url, *keys, *extra, "--json"])
    assert code == 0, err
    assert json.loads(out) == {
        "uid": uid,
        "counter": counter,
        "valid": True,
        "file_data": file_data,
    }


@pytest.mark.parametrize(("url", "extra", "uid", "counter", "file_data"), CASES)
def test_sun_verify_exits_10_when_one_mac_bit_is_changed(
    keys: list[str], url: str, extra: list[str], uid: str, counter: int, file_data: str | None
) -> None:
    flipped = url[:-1] + f"{int(url[-1], 16) ^ 1:X}"
    code, out, err = run([flipped, *keys, *extra, "--json"])
    assert code == 10
    assert json.loads(out)["valid"] is False
    assert json.loads(err) == {  # --json: the error is JSON on stderr too
        "error": {"code": 10, "message": "SUN message MAC does not verify"}
    }


@pytest.mark.parametrize("content", ["", "00" * 15, "zz" * 16, "00" * 17])
def test_a_key_file_without_32_hex_digits_is_one_line_and_exit_3(
    tmp_path: Path, content: str
) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text(content)
    good = tmp_path / "good.key"
    good.write_text("00" * 16)
    code, out, err = run([URL_PICC, "--meta-key-file", str(bad), "--file-key-file", str(good)])
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and "--meta-key-file" in err
    assert out == ""


def test_a_missing_key_file_is_exit_3(tmp_path: Path) -> None:
    code, _, err = run([URL_PICC, "--meta-key-file", str(tmp_path / "no"), "--file-key-file", "x"])
    assert code == 3 and "does not exist" in err


def test_a_url_without_sun_parameters_is_one_line_and_exit_10(keys: list[str]) -> None:
    code, _, err = run(["https://example.com/?a=b", *keys])
    assert code == 10
    assert err.strip().startswith("error: not a readable SUN message")
