"""Argon2id at its cheapest, for tests that are not about its cost (bench/pseudonym.py
measures the real parameters). The suite applies these to every test (tests/conftest.py);
a Pseudonymizer made at import time, before that, names them itself."""

from __future__ import annotations

PSEUDONYM_PARAMS = {"t": 1, "m": 8, "p": 1}
PASSWORD_HASH_PARAMS = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
