"""The listener process: ``python -m astralog_logging._listener``, or threads where no
process can start.

It runs in a fresh interpreter, started by the process that owns it (see ``_app._owner``):
a fresh interpreter never re-runs the application's ``__main__``, inherits none of its
threads, locks or logging configuration, and so can never log back into its own pipeline.
Its settings, token included, arrive on stdin, which no other process can read (argv and
the environment can be). The work is done by the reader and the sender (see ``_reader``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import threading

import orjson

from .._config import Config
from .._ipc._shared import SharedStats
from .._report import Reporter
from ._reader import Listener


def run_inline(config: Config, read_fd: int, sock: socket.socket,
               stats: SharedStats) -> threading.Thread:
    """The listener as two threads of the owner, where no listener process can start.

    Delivery, batching and the spool work the same; what is lost is the isolation: these
    threads share the application's interpreter, and a fork does not carry them.
    """
    listener = Listener(config, read_fd, sock, stats, owner_pid=None)
    listener.start_reader()
    sender = threading.Thread(target=listener.sender.run, name="astralog-sender", daemon=True)
    sender.start()
    return sender


def main() -> int:
    settings = orjson.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the app's Ctrl-C is not ours to obey
    logging.getLogger().addHandler(logging.NullHandler())
    logging.lastResort = None  # urllib3's own warnings must not leak as log lines
    stats = SharedStats(settings.pop("stats_fd"), "")
    stats.listener_pid = os.getpid()
    sock = socket.socket(fileno=settings.pop("socket_fd"))
    # The application's own sys.path (its script's directory), for its callables.
    sys.path.extend(p for p in settings.get("import_path", ()) if p not in sys.path)
    try:
        listener = Listener(Config.from_listener_settings(settings), settings["read_fd"], sock,
                            stats, settings["owner_pid"])
    except Exception as exc:  # one line, not a traceback; the owner restarts us, slower
        Reporter().say(f"the listener cannot start ({exc!r})")
        return 78  # EX_CONFIG
    signal.signal(signal.SIGTERM, lambda *_: listener.begin_stop("SIGTERM"))
    listener.start_reader()
    listener.sender.run()
    listener.say_what_stop_left()
    listener.delivery.transport.close()
    if listener.owner_gone:  # nobody else will remove them
        shutil.rmtree(os.path.dirname(sock.getsockname()), ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(os.readlink(f"/proc/self/fd/{stats.fd}"))
    sock.close()
    return 0


def run() -> None:
    """``main``, then exit without tearing the interpreter down: everything is delivered
    and closed by then, and whoever reads our stderr (a shell's pipe) waits for the exit."""
    code = main()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)
