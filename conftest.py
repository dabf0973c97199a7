"""Fixtures shared by every suite live in the runtime library (`karmayogi_runtime.testing`)."""

pytest_plugins = ["karmayogi_runtime.testing"]
