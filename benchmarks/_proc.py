"""What /proc says about a process: CPU seconds, resident memory, children.

Linux only, like the package. Read from /proc rather than psutil so the benchmarks need no
extra dependency and so another process (a listener, a receiver) can be measured without
its cooperation.
"""

from __future__ import annotations

import os
from typing import List

_TICKS = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of ``pid`` so far (0.0 once it is gone)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def rss_bytes(pid: int) -> int:
    """Resident set size now (VmRSS)."""
    return _status_kib(pid, "VmRSS:") * 1024


def peak_rss_bytes(pid: int) -> int:
    """The high-water mark of the resident set (VmHWM)."""
    return _status_kib(pid, "VmHWM:") * 1024


def _status_kib(pid: int, key: str) -> int:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def children(parent: int, mark: str = "") -> List[int]:
    """Live direct children of ``parent`` whose command line contains ``mark``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = _read(f"/proc/{name}/stat")
        if not stat or int(stat.rsplit(")", 1)[1].split()[1]) != parent:
            continue
        if mark and mark not in _read(f"/proc/{name}/cmdline").replace("\0", " "):
            continue
        found.append(int(name))
    return found
