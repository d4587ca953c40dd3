"""``nfcbridge web`` as its own process beside a daemon (the soak test and bench/soak.py),
with a desk operator logged in to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from provisioning.registry import Registry
from tests.support.harness import REPO, free_port
from tests.support.web import PASSWORD, csrf, make_people


class WebApp:
    """``nfcbridge web`` beside the daemon, and a desk operator logged in to it."""

    def __init__(self, tmp_path: Path) -> None:
        import httpx

        self.port = free_port()
        config = tmp_path / "web.toml"
        config.write_text(
            f'[station]\nname = "test-station"\ndata_dir = "{tmp_path}"\n'
            '[web]\nsecure_cookies = false\ndesk_reader = "mock:soak-web-desk"\n'
            '[logging]\nlevel = "warning"\n'
        )
        with Registry.open(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
            self.people = make_people(registry)
            self.people.add("desk1", "desk")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with (tmp_path / "web.log").open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nfcbridge.cli.main", "--config", str(config), "web",
                 "--listen", f"127.0.0.1:{self.port}"],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        deadline = time.monotonic() + 60
        while True:
            try:
                page = self.client.get("/login")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        form = {"username": "desk1", "password": PASSWORD, "csrf_token": csrf(page.text)}
        self.client.post("/login", data=form)
        page = self.client.get("/login/code")
        code = {"code": self.people.code("desk1"), "csrf_token": csrf(page.text)}
        assert self.client.post("/login/code", data=code).status_code == 302

    def pages(self) -> None:
        station = self.client.get("/reports/station")
        assert station.status_code == 200, f"station page answered {station.status_code}"
        assert "Station test-station" in station.text
        desk = self.client.get("/desk/")
        assert desk.status_code == 200, f"desk page answered {desk.status_code}"

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)
