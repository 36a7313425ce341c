"""Opt-in capture of exceptions nobody caught (``capture_uncaught=True``).

``install(handler)`` wraps ``sys.excepthook`` (the main thread: the process is about to
die, so the record is CRITICAL) and ``threading.excepthook`` (another thread died; the
process lives on, so ERROR). Each wrapper sends one record with ``exc_info`` through the
handler, in the dying process and thread, where the traceback still exists, and then
calls the hook that was there before, so Python's own report (or another tool's hook)
still happens. KeyboardInterrupt and a thread's SystemExit are passed through untouched:
they are how programs are meant to stop.

A wrapper never lets the handler's failure replace the original report. ``uninstall``
restores the previous hooks when ours are still the outermost; when someone wrapped ours
since, it leaves theirs in place and only makes ours a pass-through.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType
from typing import Any, Callable, Optional

__all__ = ["LOGGER_NAME", "install", "uninstall"]

LOGGER_NAME = "uncaught"  # the ``logger`` of the entries these hooks send

SysHook = Callable[[type[BaseException], BaseException, Optional[TracebackType]], Any]
ThreadHook = Callable[[Any], Any]

_lock = threading.Lock()
_installed: dict[int, _Hooks] = {}  # id(handler) -> its wrappers


class _Hooks:
    """One handler's pair of wrappers and the hooks they chain to."""

    def __init__(self, handler: logging.Handler) -> None:
        self.handler = handler
        self.active = True
        self.previous_sys: SysHook = sys.excepthook
        self.previous_thread: ThreadHook = threading.excepthook

    def sys_hook(self, kind: type[BaseException], value: BaseException,
                 tb: TracebackType | None) -> None:  # fmt: skip
        if self.active and not issubclass(kind, KeyboardInterrupt):
            self.emit(logging.CRITICAL, "Uncaught exception", (kind, value, tb))
        self.previous_sys(kind, value, tb)

    def thread_hook(self, args: Any) -> None:
        if self.active and args.exc_type is not SystemExit and args.exc_value is not None:
            thread = args.thread.name if args.thread is not None else "unknown"
            info = (args.exc_type, args.exc_value, args.exc_traceback)
            self.emit(logging.ERROR, f"Uncaught exception in thread {thread}", info)
        self.previous_thread(args)

    def emit(self, level: int, message: str, exc_info: Any) -> None:
        """Send the record; the site of the raise becomes the entry's ``source``."""
        try:
            path, line, function = "(unknown file)", 0, "(unknown function)"
            tb = exc_info[2]
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None:
                code = tb.tb_frame.f_code
                path, line, function = code.co_filename, tb.tb_lineno, code.co_name
            record = logging.getLogRecordFactory()(
                LOGGER_NAME, level, path, line, message, None, exc_info, function
            )
            if record.levelno >= self.handler.level:
                self.handler.handle(record)
        except Exception:  # the original report below matters more than ours
            pass


def install(handler: logging.Handler) -> None:
    """Send uncaught exceptions of this process and its threads through ``handler``.

    Idempotent per handler; each handler installed adds one link to the chain.
    """
    with _lock:
        if id(handler) in _installed:
            return
        hooks = _Hooks(handler)
        _installed[id(handler)] = hooks
        sys.excepthook = hooks.sys_hook
        threading.excepthook = hooks.thread_hook


def uninstall(handler: logging.Handler) -> None:
    """Stop sending through ``handler``; restore the previous hooks where ours are on top."""
    with _lock:
        hooks = _installed.pop(id(handler), None)
        if hooks is None:
            return
        hooks.active = False
        if sys.excepthook == hooks.sys_hook:
            sys.excepthook = hooks.previous_sys
        if threading.excepthook == hooks.thread_hook:
            threading.excepthook = hooks.previous_thread
