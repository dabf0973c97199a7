"""Failpoints: named moments where a crash test can catch a process, to kill it exactly there.

Inert unless `KARMAYOGI_FAILPOINTS` names the point (comma-separated). When an armed point is reached,
the process touches `<KARMAYOGI_FAILPOINT_DIR>/<name>` and stops at that line until it is killed, so
the test knows the moment has come. Production never sets the variable.
"""

import asyncio
import os
from pathlib import Path

_ARMED = frozenset(filter(None, os.environ.get("KARMAYOGI_FAILPOINTS", "").split(",")))


async def reached(name: str) -> None:
    if name not in _ARMED:
        return
    Path(os.environ.get("KARMAYOGI_FAILPOINT_DIR", ".")).joinpath(name).touch()
    await asyncio.Event().wait()
