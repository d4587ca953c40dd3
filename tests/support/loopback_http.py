"""One HTTP client for the tests' requests to servers on loopback: ``httpx.post()`` and
``httpx.get()`` build a client, and with it a TLS context (loading the CA bundle, about
50 ms), for every call."""

from __future__ import annotations

import httpx

LOOPBACK = httpx.Client(timeout=10)
