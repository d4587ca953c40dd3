"""Loads the fuzz suite's Hypothesis profile (``tests.support.fuzz_profile``) for every
module here."""

from tests.support import fuzz_profile  # noqa: F401
