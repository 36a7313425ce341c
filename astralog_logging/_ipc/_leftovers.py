"""What a tree killed whole leaves behind, removed by a later start.

An owner removes its attach directory and counters file at exit, and a listener whose owner
died removes them before it ends. A SIGKILL of both (the OOM killer, ``kill -9`` of a
container's processes) leaves them forever. So the next owner to start looks for pairs of
them (``astralog-XXXXXXXX`` in the temp directory, ``astralog-XXXXXXXX.stats`` beside the
counters) and removes a pair only when it is this user's and its counters file's lock is
free: every process of a tree holds that lock while it lives (see ``SharedStats.create``),
so a free lock proves the tree gone, in any pid namespace. Anything else is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile

from ._ownership import own_path
from ._shared import SharedStats

PREFIX = "astralog-"


def sweep() -> int:
    """Remove the pairs that dead trees left; return how many went."""
    directory = tempfile.gettempdir()
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    removed = 0
    for name in names:
        if not name.startswith(PREFIX):
            continue
        workdir = os.path.join(directory, name)
        stats_path = SharedStats.path_for(name)
        if own_path(workdir, stat.S_IFDIR) or own_path(stats_path, stat.S_IFREG):
            continue  # not a pair of ours
        if unused(stats_path):
            shutil.rmtree(workdir, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.unlink(stats_path)
            removed += 1
    return removed


def unused(path: str) -> bool:
    """Whether no process holds the counters file at ``path`` open any more."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True
