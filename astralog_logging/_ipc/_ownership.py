"""Whether another local user could have planted or swapped a path we are about to trust.

The spool is read back and delivered under our token, and the attach socket and counters
file decide where our records go; a path another user can write to, or rename entries in,
would let that user inject records or redirect them. The rules follow ssh's with
``~/.ssh``:

- a directory we only *use* (``spool_dir``) must be owned by us or by root, and must not be
  writable by group or others unless it has the sticky bit (as ``/tmp`` has), which keeps
  others from renaming or removing what we create in it;
- a path we *created* (the spool's per-configuration subdirectory, the attach directory and
  socket, the counters file) must be owned by us, be of the kind we made (never a symbolic
  link), and not be writable by group or others (the socket excepted: its mode follows the
  umask, and its 0700 directory guards it).

Each check returns why a path is refused, or None.
"""

from __future__ import annotations

import os
import stat
from typing import Optional

from ..exceptions import ConfigError

_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def check_spool(spool_dir: str, spool_path: str) -> None:
    """Refuse, when the handler is built, a spool another user could write into."""
    why = shared_dir(spool_dir)
    if why is None and os.path.lexists(spool_path):
        why = own_path(spool_path, stat.S_IFDIR)
        if why:
            why = f"holds {os.path.basename(spool_path)!r}, which {why}"
    if why:
        raise ConfigError(f"spool_dir: {spool_dir!r} {why}")


def shared_dir(path: str) -> Optional[str]:
    """Why ``path`` (followed if it is a link) may not hold our files, or None."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot be examined ({exc.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid not in (os.geteuid(), 0):
        return (f"is owned by uid {st.st_uid}, neither this user (uid {os.geteuid()}) nor "
                "root, so that user could plant or replace what is in it")
    if st.st_mode & _OTHERS_WRITE and not st.st_mode & stat.S_ISVTX:
        return (f"is writable by {_who(st.st_mode)} without the sticky bit (mode "
                f"{stat.S_IMODE(st.st_mode):04o}), so they could rename or replace what is "
                "in it")
    return None


def own_path(path: str, kind: int) -> Optional[str]:
    """Why ``path``, which we made as a ``kind`` (``stat.S_IFDIR``...), is not ours now."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot be examined ({exc.strerror})"
    return own_stat(st, kind)


def own_stat(st: os.stat_result, kind: int) -> Optional[str]:
    if stat.S_IFMT(st.st_mode) != kind:
        return "is not what this package creates there (a link, or another kind of file)"
    if st.st_uid != os.geteuid():
        return f"is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
    # A socket's own mode follows the umask; the 0700 directory around it is what guards it.
    if st.st_mode & _OTHERS_WRITE and kind != stat.S_IFSOCK:
        return (f"is writable by {_who(st.st_mode)} (mode {stat.S_IMODE(st.st_mode):04o})")
    return None


def _who(mode: int) -> str:
    if mode & stat.S_IWGRP and mode & stat.S_IWOTH:
        return "its group and others"
    return "its group" if mode & stat.S_IWGRP else "others"
