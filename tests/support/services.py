"""The services some tests need, and whether they are here.

- PostgreSQL: ``$NFCBRIDGE_PG_SERVER`` (an administration URL, default the local server on
  127.0.0.1:5432; ``provisioning.pgadmin`` uses the same variable).
- Mosquitto: the broker binary, ``$NFCBRIDGE_MOSQUITTO`` or ``mosquitto`` on PATH (the tests
  start a broker of their own on a free port).

Pointing either at something absent (a closed port, a missing file) shows what the suite
does on a machine without the service: marked tests are skipped with the reason, and with
``CI=true`` such a skip is a failure (CI must run them).
"""

from __future__ import annotations

import functools
import os
import shutil

from provisioning import pgadmin

MOSQUITTO_ENV = "NFCBRIDGE_MOSQUITTO"


@functools.cache
def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    if pgadmin.server_available():
        return None
    return f"no PostgreSQL server at {pgadmin.server()} (set ${pgadmin.SERVER_ENV})"


def mosquitto_binary() -> str | None:
    configured = os.environ.get(MOSQUITTO_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("mosquitto")


@functools.cache
def mosquitto_missing() -> str | None:
    """Why a Mosquitto broker cannot be started here, or None when it can."""
    if mosquitto_binary() is not None:
        return None
    return f"no mosquitto broker binary (install mosquitto or set ${MOSQUITTO_ENV})"


MISSING = {"postgres": postgres_missing, "mqtt": mosquitto_missing}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")
