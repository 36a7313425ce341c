"""A last push on SIGTERM, for processes that would otherwise die holding records.

A process killed by SIGTERM with the default disposition skips atexit and logging.shutdown,
so whatever its channel buffered is lost: a script stopped by a supervisor, or a uvicorn
worker, which restores the previous handler and re-raises SIGTERM after its final log
lines. Only when SIGTERM still has its default disposition (the application has not chosen
one) do we install a handler that hands the buffers to the queue and then dies of SIGTERM
exactly as before, exit status included. An application or server that installs its own
handler later simply replaces ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any, Callable, List

_pushers: List[Callable[[], None]] = []
_installed = False


def on_sigterm(push: Callable[[], None]) -> None:
    """Run ``push`` before this process dies of a default-disposition SIGTERM."""
    global _installed
    _pushers.append(push)
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _handle)
    except (ValueError, OSError):  # not the main interpreter, or no such signal here
        return
    _installed = True


def _handle(signum: int, frame: Any) -> None:
    for push in list(_pushers):
        with contextlib.suppress(Exception):  # dying anyway: nothing may stop the re-raise
            push()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
