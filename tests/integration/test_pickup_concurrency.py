"""Eight processes picking up at once never exceed the allowance nor issue a tag twice.

Four processes pick up for provider A and four for provider B, all released together by a
barrier, each taking 1-3 tags per pickup until refused for quota. Afterwards each provider
holds exactly its allowance, no UID went to two pickups, and the audit chain (appended to
by every process) still verifies.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random

from provisioning.errors import QuotaExceeded
from provisioning.registry import Registry

PROCESSES = 8
CUSTOMERS = {"P-A": 10, "P-B": 7}
SPARE = 2


def worker(url: str, provider: str, barrier, results) -> None:  # runs in a child process
    rng = random.Random(os.getpid())
    taken: list[str] = []
    with Registry.open(url, migrate=False) as reg:
        barrier.wait(timeout=30)
        want = rng.randint(1, 3)
        while True:
            try:
                taken += reg.pickup(provider, want, operator=f"proc-{os.getpid()}").uids
                want = rng.randint(1, 3)
            except QuotaExceeded:
                if want == 1:
                    break
                want = 1
    results.put((provider, taken))


def test_eight_processes_never_exceed_the_allowance_nor_share_a_tag(registry_url: str):
    with Registry.open(registry_url) as reg:
        reg.open_batch("roll", operator="setup")
        for provider, n in CUSTOMERS.items():
            reg.add_provider(provider, provider, operator="setup", spare=SPARE)
            for i in range(n):
                reg.add_customer(f"ext:{provider}-{i}", provider, operator="setup")
        for i in range(60):
            reg.record_provisioned(b"\x04\x00\x00\x00\x00\x00" + bytes([i]), "NTAG213",
                                   f"t{i}", "roll", "setup")  # fmt: skip
        allowance = {p: reg.provider(p).allowance for p in CUSTOMERS}
    assert allowance == {"P-A": 12, "P-B": 9}

    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    providers = [p for p in CUSTOMERS for _ in range(PROCESSES // 2)]
    procs = [
        ctx.Process(target=worker, args=(registry_url, p, barrier, results)) for p in providers
    ]
    for proc in procs:
        proc.start()
    got = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0

    every_uid = [uid for _, taken in got for uid in taken]
    assert len(every_uid) == len(set(every_uid)), "a tag was issued twice"
    for provider, expected in allowance.items():
        assert sum(len(t) for p, t in got if p == provider) == expected
    with Registry.open(registry_url) as reg:
        for provider in CUSTOMERS:
            status = reg.provider(provider)
            assert (status.unattached, status.allowance) == (allowance[provider], 0)
            for uid in (u for p, t in got if p == provider for u in t):
                assert reg.tag(uid).provider == provider
        in_stock = next(r for r in _stock(reg) if r[0] == "in_stock")[1]
        assert in_stock == 60 - len(every_uid)
        assert reg.verify_audit().ok


def _stock(reg: Registry) -> list[tuple[str, int]]:
    from provisioning.reports import stock_report

    return [(r["state"], r["tags"]) for r in stock_report(reg)]
