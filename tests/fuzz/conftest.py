"""Loads the fuzz suite's Hypothesis profile (``tests.fuzz.profile``) for every module here."""

from tests.fuzz import profile  # noqa: F401
