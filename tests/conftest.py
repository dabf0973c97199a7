"""Fixtures of the cross-service suite; the harness itself is in `system_harness.py`."""

from system_harness import system, training  # noqa: F401  (pytest fixtures)
