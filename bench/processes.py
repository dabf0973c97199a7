"""What a process has used so far, read from /proc (Linux), and how busy the machine was: the benchmarks
report both beside their figures."""

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used since it started."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM) since it started, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/status has no VmHWM line")


def machine_load() -> str:
    """The machine's 1-minute load average, as a line to print: well above the core count, the run competed
    with other work and every figure beside it is slower than it would be."""
    return f"machine load (1-minute average) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
