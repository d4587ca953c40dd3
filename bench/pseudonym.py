"""What one pseudonym costs, and what searching every personnummer would cost with the key.

    python bench/pseudonym.py [--samples 15] [--json]

Times ``Pseudonymizer.pseudonym`` with the production Argon2id parameters
(``provisioning.identity.ARGON2_PARAMS``) beside the pre-0002 HMAC-SHA256 scheme, median of
--samples, wall and CPU time. Then models a search of the whole personnummer space by
someone holding the key: every birth date from 1900-01-01 to today, as a personnummer and as
a samordningsnummer (day + 60), times 1,000 serial numbers (the check digit is computed, not
guessed). The figure is CPU time on this machine; an attacker's hardware divides it, the
memory each guess needs (``m`` KiB) is what makes that expensive. A search for one person
whose birth date is known costs 1,000 guesses: the key is the protection, not the cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provisioning.identity import ARGON2_PARAMS, Pseudonymizer

YEAR_S = 365.25 * 24 * 3600


def search_space(today: dt.date) -> int:
    days = (today - dt.date(1900, 1, 1)).days + 1
    return days * 2 * 1000  # personnummer and samordningsnummer, 1,000 serials each


def measure(make: Pseudonymizer, samples: int) -> tuple[float, float]:
    """Median wall and CPU seconds of one pseudonym."""
    numbers = ["811218-9876", "701063-2391", "121212-1212"]
    walls, cpus = [], []
    for i in range(samples):
        w, c = time.perf_counter(), time.process_time()
        make.pseudonym(numbers[i % len(numbers)])
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    key = os.urandom(32)
    argon = Pseudonymizer(key, "bench", "argon2id", dict(ARGON2_PARAMS))
    hmac_ = Pseudonymizer(key, "bench", "hmac-sha256", {})
    a_wall, a_cpu = measure(argon, args.samples)
    h_wall, h_cpu = measure(hmac_, max(args.samples, 1000))
    space = search_space(dt.date.today())
    figures = {
        "argon2id_params": "t={t} m={m}KiB p={p}".format(**ARGON2_PARAMS),
        "pseudonym_argon2id_wall": round(a_wall * 1000, 2),
        "pseudonym_argon2id_cpu": round(a_cpu * 1000, 2),
        "pseudonym_hmac_wall": round(h_wall * 1e6, 2),
        "argon2id_vs_hmac": round(a_wall / h_wall),
        "search_space": space,
        "full_search_argon2id_cpu": round(space * a_cpu / YEAR_S, 2),
        "full_search_hmac_cpu": round(space * h_cpu / 60, 2),
        "one_birth_date_argon2id_cpu": round(1000 * a_cpu, 1),
    }
    units = {
        "argon2id_params": "",
        "pseudonym_argon2id_wall": "ms",
        "pseudonym_argon2id_cpu": "ms",
        "pseudonym_hmac_wall": "us",
        "argon2id_vs_hmac": "x",
        "search_space": "numbers",
        "full_search_argon2id_cpu": "cpu-years",
        "full_search_hmac_cpu": "cpu-minutes",
        "one_birth_date_argon2id_cpu": "cpu-seconds",
    }
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name}: {value} {units[name]}".rstrip())


if __name__ == "__main__":
    main()
