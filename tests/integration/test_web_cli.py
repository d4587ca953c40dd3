"""``nfcbridge account`` and ``nfcbridge web`` as an administrator starts them: the first
account from the command line, the server (waitress) on loopback, clear errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.web import PASSWORD


def nfcbridge(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NFCBRIDGE_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "nfcbridge.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_first_administrator_from_the_command_line(tmp_path: Path) -> None:
    made = nfcbridge(
        tmp_path, "account", "add", "chef", "--role", "admin", stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert made.returncode == 0, made.stderr
    assert PASSWORD not in made.stdout + made.stderr
    listed = nfcbridge(tmp_path, "account", "list", "--json")
    rows = json.loads(listed.stdout)
    assert rows == [
        {
            "username": "chef",
            "role": "admin",
            "providers": "",
            "state": "active",
            "two_factor": "not yet",
            "last_login": "",
        }
    ]
    disabled = nfcbridge(tmp_path, "account", "disable", "chef", "--reason", "test")
    assert disabled.returncode == 0
    assert json.loads(nfcbridge(tmp_path, "account", "list", "--json").stdout)[0]["state"] == (
        "disabled"
    )


def test_bad_account_input_is_one_line_and_exit_7(tmp_path: Path) -> None:
    short = nfcbridge(tmp_path, "account", "add", "chef", "--role", "desk", stdin="short\nshort\n")
    assert short.returncode == 7
    assert short.stderr.strip().splitlines()[-1] == (
        "error: a password needs at least 12 characters"
    )
    lonely = nfcbridge(
        tmp_path, "account", "add", "samo", "--role", "coordinator",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert lonely.returncode == 7
    assert "at least one provider" in lonely.stderr
    assert nfcbridge(tmp_path, "account", "unlock", "nobody").returncode == 7


def test_web_serves_the_login_page_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "NFCBRIDGE_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "nfcbridge.cli.main", "web", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert "Logga in" in body
        assert (tmp_path / "web.key").stat().st_mode & 0o077 == 0
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err


@pytest.mark.parametrize(
    "listen, message",
    [
        ("0.0.0.0:8080", "must be a loopback HOST:PORT"),
        ("127.0.0.1:99999", "must be a loopback HOST:PORT"),
    ],
)
def test_web_refuses_a_listen_address_off_loopback(
    tmp_path: Path, listen: str, message: str
) -> None:
    answer = nfcbridge(tmp_path, "web", "--listen", listen)
    assert answer.returncode == 3
    assert message in answer.stderr and "Traceback" not in answer.stderr


def test_web_on_a_port_in_use_is_exit_3(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        answer = nfcbridge(tmp_path, "web", "--listen", f"127.0.0.1:{port}")
    assert answer.returncode == 3
    assert "cannot listen on" in answer.stderr and "Traceback" not in answer.stderr
