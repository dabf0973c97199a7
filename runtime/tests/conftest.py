"""Fixtures of the runtime's own tests; the harness is in `ledger_harness.py`."""

from ledger_harness import ledger  # noqa: F401  (a pytest fixture)
