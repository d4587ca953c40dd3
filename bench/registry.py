"""Registry latency at scale: lookup (by UID), attach and pickup on SQLite and PostgreSQL.

    python bench/registry.py [--tags 1000000] [--samples 300] [--json]

Builds a registry of --tags tags (bulk insert, bypassing the API: 230 providers, 16,000
customers, 1.5 % active, 6 % retired, 2.5 % spoiled, the rest in stock), then times the
registry API one operation at a time, each its own transaction as the CLI does it:

- lookup: ``tap_context(uid)`` for random known UIDs (what the daemon does per tap);
- pickup: ``pickup(provider, 1)`` (provider row lock, allowance counts, oldest stock row,
  audit row);
- attach: ``attach(uid, customer)`` of the tags just picked up;
- provision: the software time per provisioned tag (``provisioning.batch.run_batch`` on a
  ``mock:`` roll, no simulated air time: identify, signature, write, lock, verify, record)
  into this large registry. bench/provision.py breaks that figure down further.

Beside each, the reference: the same work as bare SQL on the same driver (a primary-key
SELECT; a single-row UPDATE plus commit), reported as a ratio. Bulk-loaded tags carry no
audit rows; the operations timed append theirs as usual. The PostgreSQL part needs the
server on 127.0.0.1:5432 (user postgres) and is skipped with a note otherwise; it works in
a scratch database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from drivers import open_reader
from provisioning import pgadmin
from provisioning.batch import BatchSettings, run_batch
from provisioning.quota import QuotaPolicy
from provisioning.registry import Registry

PROVIDERS = 230
CUSTOMERS = 16_000
BENCH_PROVIDER = "P-BENCH"
COLUMNS = (
    "uid",
    "state",
    "product",
    "token",
    "batch",
    "provider_id",
    "customer_ref",
    "issued_to",
    "issued_month",
    "created_at",
    "issued_at",
    "attached_at",
    "ended_at",
)


def build_rows(n_tags: int, seed: int = 7) -> tuple[list[tuple[Any, ...]], list[str]]:
    """The tag rows and the list of all UIDs (for random lookups)."""
    rng = random.Random(seed)
    base = dt.datetime(2026, 1, 1)
    n_active = min(int(n_tags * 0.015), CUSTOMERS)
    n_retired, n_spoiled = int(n_tags * 0.06), int(n_tags * 0.025)
    rows: list[tuple[Any, ...]] = []
    uids: list[str] = []
    for i in range(n_tags):
        uid = f"04{i:06X}{rng.getrandbits(24):06X}"  # 7 bytes, unique by construction
        created = base + dt.timedelta(seconds=i)
        row: tuple[Any, ...]
        if i < n_active:
            provider = f"P-{i % PROVIDERS:04d}"
            row = (uid, "active", "NTAG213", f"t{i:08d}", "bulk", provider, f"ext:c{i}",
                   provider, "2026-02", created, created, created, None)  # fmt: skip
        elif i < n_active + n_retired:
            row = (uid, "retired", "NTAG213", f"t{i:08d}", "bulk", None, None, None, None,
                   created, None, None, created)  # fmt: skip
        elif i < n_active + n_retired + n_spoiled:
            row = (uid, "spoiled", "NTAG213", None, "bulk", None, None, None, None, created,
                   None, None, created)  # fmt: skip
        else:
            row = (uid, "in_stock", "NTAG213", f"t{i:08d}", "bulk", None, None, None, None,
                   created, None, None, None)  # fmt: skip
        rows.append(row)
        uids.append(uid)
    return rows, uids


def bulk_load(reg: Registry, rows: list[tuple[Any, ...]]) -> None:
    now = dt.datetime.now(dt.UTC)
    reg.open_batch("bulk", operator="bench")
    providers = [{"id": f"P-{p:04d}", "name": f"Provider {p}", "created_at": now}
                 for p in range(PROVIDERS)]  # fmt: skip
    customers = [{"ref": f"ext:c{c}", "provider_id": f"P-{c % PROVIDERS:04d}", "created_at": now}
                 for c in range(CUSTOMERS)]  # fmt: skip
    from provisioning.schema import customers as customers_t
    from provisioning.schema import providers as providers_t

    with reg.store.write() as conn:
        conn.execute(providers_t.insert(), providers)
        conn.execute(customers_t.insert(), customers)
        raw = conn.connection.driver_connection
        assert raw is not None
        if reg.store.is_postgres:
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY tags ({', '.join(COLUMNS)}) FROM STDIN") as cp,
            ):
                for row in rows:
                    cp.write_row(row)
        else:
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            conv = [tuple(v.strftime(fmt) if isinstance(v, dt.datetime) else v for v in row)
                    for row in rows]  # fmt: skip
            marks = ", ".join("?" * len(COLUMNS))
            raw.executemany(f"INSERT INTO tags ({', '.join(COLUMNS)}) VALUES ({marks})", conv)
    with reg.store.write() as conn:
        if reg.store.is_postgres:
            conn.execute(text("ANALYZE"))
        else:
            conn.exec_driver_sql("ANALYZE")


def attach(reg: Registry, uid: str, customer: str) -> None:
    reg.attach(uid, customer, operator="b")


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


def run_store(label: str, url: str, n_tags: int, samples: int) -> dict[str, float]:
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    reg = Registry.open(url, policy=QuotaPolicy(1, 2))
    rows, uids = build_rows(n_tags)
    bulk_load(reg, rows)
    out[f"{label}_build_s"] = round(time.perf_counter() - t0, 1)
    del rows
    reg.add_provider(BENCH_PROVIDER, "Bench", operator="bench", spare=samples + 10)
    for c in range(samples):
        reg.add_customer(f"ext:bench{c}", BENCH_PROVIDER, operator="bench")
    rng = random.Random(11)

    lookups = [timed(lambda: reg.tap_context(bytes.fromhex(rng.choice(uids)))) for _ in
               range(samples * 10)]  # fmt: skip
    picked: list[str] = []
    pickups = [timed(lambda: picked.extend(reg.pickup(BENCH_PROVIDER, 1, operator="b").uids))
               for _ in range(samples)]  # fmt: skip
    attaches = [timed(functools.partial(attach, reg, picked[i], f"ext:bench{i}"))
                for i in range(samples)]  # fmt: skip
    provisions = provision_times(reg, label, samples // 3 or 1)
    ref_lookup, ref_update = reference(reg, uids, rng, samples)
    for name, values in (("lookup", lookups), ("pickup", pickups), ("attach", attaches),
                         ("provision_per_tag", provisions),
                         ("raw_select", ref_lookup), ("raw_update", ref_update)):  # fmt: skip
        median, p99 = stats(values)
        out[f"{label}_{name}_median_ms"] = round(median, 3)
        out[f"{label}_{name}_p99_ms"] = round(p99, 3)
    out[f"{label}_lookup_vs_raw_select_ratio"] = round(
        out[f"{label}_lookup_median_ms"] / out[f"{label}_raw_select_median_ms"], 1
    )
    out[f"{label}_attach_vs_raw_update_ratio"] = round(
        out[f"{label}_attach_median_ms"] / out[f"{label}_raw_update_median_ms"], 1
    )
    assert reg.verify_audit(state=False).ok  # bulk-loaded rows have no audit rows: chain only
    reg.close()
    return out


def provision_times(reg: Registry, label: str, n: int) -> list[float]:
    """Milliseconds per tag for *n* tags provisioned from a mock roll into *reg*."""
    settings = BatchSettings(tag_timeout=5.0)
    with open_reader(f"mock:bench-registry-{label}?roll=ntag213") as reader:
        results = list(run_batch(reader, reg, f"bench-{label}", operator="bench", count=n,
                                 settings=settings))  # fmt: skip
    if any(r.outcome != "provisioned" for r in results):
        raise RuntimeError(f"bench tags not provisioned: {results}")
    return [r.elapsed * 1000 for r in results]


def reference(
    reg: Registry, uids: list[str], rng: random.Random, samples: int
) -> tuple[list[float], list[float]]:
    """Bare SQL on one kept-open driver connection: the floor our API is measured against."""
    raw = reg.store.engine.raw_connection()
    try:
        cur = raw.cursor()
        mark = "%s" if reg.store.is_postgres else "?"
        select = f"SELECT state, customer_ref, provider_id FROM tags WHERE uid = {mark}"
        update = f"UPDATE tags SET product = {mark} WHERE uid = {mark}"

        def one_select() -> None:
            cur.execute(select, (rng.choice(uids),))
            cur.fetchall()
            raw.commit()

        def one_update() -> None:
            cur.execute(update, ("NTAG213", rng.choice(uids)))
            raw.commit()

        if not reg.store.is_postgres:
            raw.driver_connection.isolation_level = ""  # type: ignore[union-attr]
        selects = [timed(one_select) for _ in range(samples * 10)]
        updates = [timed(one_update) for _ in range(samples)]
    finally:
        raw.close()
    return selects, updates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300, help="pickups/attaches (lookups x10)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"tags": args.tags}
    with tempfile.TemporaryDirectory(prefix="nfcb-bench-") as tmp:
        figures |= run_store("sqlite", f"sqlite:///{Path(tmp) / 'registry.db'}", args.tags,
                             args.samples)  # fmt: skip
    if pgadmin.server_available():
        url = pgadmin.create_database("nfcb_bench_")
        try:
            figures |= run_store("postgres", url, args.tags, args.samples)
        finally:
            pgadmin.drop_database(url)
    else:
        print("note: PostgreSQL on 127.0.0.1:5432 not available; postgres figures skipped",
              file=sys.stderr)  # fmt: skip
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for name, value in figures.items():
            unit = "ms" if name.endswith("_ms") else "s" if name.endswith("_s") else ""
            print(f"{name}: {value} {unit}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
