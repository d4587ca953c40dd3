"""Secrets: no password from a URL in `config show`, logs or errors; the registry password
from a file or credential; no webhook in clear text to another host unless allowed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.config import load_settings, redact_url_passwords, registry_connect_url
from nfcbridge.errors import ConfigError
from nfcbridge.logs import configure_logging


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(body)
    return path


WEBHOOK = """
[[forwarders]]
type = "webhook"
name = "backend"
url = "{url}"
secret_file = "/run/secret"
{extra}
"""


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_config_show_never_prints_a_password_from_a_url(tmp_path: Path, as_json: list[str]) -> None:
    cfg = write(
        tmp_path,
        '[registry]\nurl = "postgresql://desk:s3cret-pg@db.example:5432/registry"\n'
        + WEBHOOK.format(url="https://hook:s3cret-wh@backend.example/taps", extra=""),
    )
    result = CliRunner().invoke(cli, ["--config", str(cfg), "config", "show", *as_json])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert "postgresql://desk:***@db.example:5432/registry" in result.output
    assert "https://hook:***@backend.example/taps" in result.output


def test_the_registry_password_comes_from_a_credential_and_is_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "registry-password").write_text("s3cret pg/@pass\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = write(
        tmp_path,
        '[registry]\nurl = "postgresql://desk@127.0.0.1:1/registry"\n'
        'password_file = "credential:registry-password"\n',
    )
    url = registry_connect_url(load_settings(cfg))
    from sqlalchemy.engine import make_url

    assert make_url(url).password == "s3cret pg/@pass"
    down = CliRunner().invoke(cli, ["--config", str(cfg), "provider", "list"])
    assert down.exit_code == 8 and "unreachable" in down.stderr
    assert "s3cret" not in down.output + down.stderr


def test_a_logged_url_loses_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="info", fmt="console")
    logging.getLogger("nfcbridge.test").warning(
        "cannot reach %s", "postgresql://desk:s3cret-pg@db:5432/r"
    )
    err = capsys.readouterr().err
    assert "s3cret" not in err and "postgresql://desk:***@db:5432/r" in err
    assert redact_url_passwords("mqtt://u:p@h and https://x.se/a@b") == (
        "mqtt://u:***@h and https://x.se/a@b"
    )


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3/taps", "http://backend.example/taps", "http://[2001:db8::1]/t"]
)
def test_a_webhook_in_clear_text_to_another_host_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="not loopback") as info:
        load_settings(write(tmp_path, WEBHOOK.format(url=url, extra="")))
    assert "forwarders[0].url" in str(info.value)
    allowed = load_settings(write(tmp_path, WEBHOOK.format(url=url, extra="allow_http = true")))
    assert allowed.forwarders[0].allow_http


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/t", "http://127.8.0.1/t", "http://localhost/t", "http://[::1]/t",
     "https://backend.example/taps"],
)  # fmt: skip
def test_loopback_and_https_webhooks_are_accepted(tmp_path: Path, url: str) -> None:
    assert load_settings(write(tmp_path, WEBHOOK.format(url=url, extra=""))).forwarders
