"""The property-based suite (Hypothesis): every parser and protocol handler fed generated
bytes, one module per surface.

Budget: ``NFCBRIDGE_FUZZ_EXAMPLES`` examples per property (default 100, the CI budget: the
whole suite runs in about a minute on 2 cores); heavier properties (a reader, a socket or an
HTTP round trip per example) take a stated fraction of it via ``budget()``. Ten times the
budget is ``NFCBRIDGE_FUZZ_EXAMPLES=1000``. Runs are derandomized (the same examples on
every run, so CI is deterministic); ``NFCBRIDGE_FUZZ_RANDOM=1`` explores new ones. An
example Hypothesis finds is fixed and then kept in the test as an explicit ``@example``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("NFCBRIDGE_FUZZ_EXAMPLES", "100"))

settings.register_profile(
    "nfcbridge-fuzz",
    max_examples=EXAMPLES,
    derandomize=os.environ.get("NFCBRIDGE_FUZZ_RANDOM", "") != "1",
    deadline=None,  # 2 shared cores: timing is never asserted
    database=None,  # nothing written into the checkout; found examples become @example
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("nfcbridge-fuzz")


def budget(fraction: float) -> int:
    """*fraction* of the per-property example budget, at least 10."""
    return max(10, int(EXAMPLES * fraction))
