"""The applications of tests/test_hostile_settings.py: settings and answers that used to hurt.

``python tests/programs/hostile_settings.py SCENARIO [DIR]`` runs one scenario; DIR is the
test's tmp_path, holding the module of callbacks (or the file of launches) it wrote. Each
prints what its test asserts on. The drain and token come from ASTRALOG_* variables.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from typing import Callable, Dict

import astralog_logging
from astralog_logging._app._link import Link

root = logging.getLogger()
root.setLevel(logging.INFO)
log = logging.getLogger("hostile")


def link_of(handler: astralog_logging.AstralogHandler) -> Link:
    """The handler's link: is_owner, owner_pid, process and watch() have no public form."""
    link = handler._link
    assert link is not None
    return link


def echoed(hooks_dir: str) -> None:
    """Five records to a drain that echoes the token; on_error is hooks:bad."""
    sys.path.insert(0, hooks_dir)  # the listener finds hooks here too
    handler = astralog_logging.AstralogHandler(flush_interval=0.1, max_retries=1,
                                               retry_max_delay=0.1, on_error="hooks:bad")
    root.addHandler(handler)
    for i in range(5):
        log.info("echoed %d", i)
    print(handler.flush(10))
    print(handler.stats()["last_error"])


def one_failing() -> None:
    """One record, no retry, to a drain that refuses, is down or speaks no TLS."""
    handler = astralog_logging.AstralogHandler(flush_interval=0.1, max_retries=0)
    root.addHandler(handler)
    log.info("one")
    print(handler.flush(10))
    print(handler.stats()["last_error"])


def join() -> None:
    """Starts a listener, then runs join_child with its token and with another."""
    handler = astralog_logging.AstralogHandler()
    for token in (os.environ["ASTRALOG_TOKEN"], "another-token"):
        env = dict(os.environ, ASTRALOG_TOKEN=token)
        out = subprocess.run([sys.executable, __file__, "join_child"], env=env,
                             capture_output=True, text=True, check=True).stdout
        print(out.split()[0], out.split()[1] == str(os.getpid()))
    handler.close()


def join_child() -> None:
    """Prints whether its handler owns a listener, and the owner's pid."""
    handler = astralog_logging.AstralogHandler()
    link = link_of(handler)
    print(link.is_owner, link.owner_pid)
    handler.close()


def on_error(reason: str, count: int) -> None:
    """A callback in the main script, which the listener cannot import."""


def main_script_callback() -> None:
    """Prints the ConfigError of an on_error defined in the main script."""
    try:
        astralog_logging.AstralogHandler(on_error=on_error)
    except astralog_logging.ConfigError as exc:
        print(exc)


def side_callback(hooks_dir: str) -> None:
    """One record to a drain that rejects the token; on_error is sidehooks.bad, imported
    through the script's own sys.path."""
    sys.path.insert(0, hooks_dir)
    import sidehooks  # type: ignore[import-not-found]  # written by the test

    handler = astralog_logging.AstralogHandler(flush_interval=0.1, on_error=sidehooks.bad)
    root.addHandler(handler)
    log.info("one")
    print(handler.flush(10))


def listener_session(sessions_dir: str) -> None:
    """A session_factory that raises in the listener only; watches the listener 3 s."""
    sys.path.insert(0, sessions_dir)
    os.environ["APP_PID"] = str(os.getpid())
    handler = astralog_logging.AstralogHandler(flush_interval=0.1,
                                               session_factory="sessions:make")
    root.addHandler(handler)
    link = link_of(handler)
    assert link.process is not None
    listener = link.process.pid
    for i in range(20):
        log.info("record %d", i)
    print(handler.flush(10))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # the owner watches its listener meanwhile
        link.watch()
        time.sleep(0.05)
    figures = handler.stats()
    print(figures["failed"], figures["listener_alive"], link.process.pid == listener)


def no_start(launches: str) -> None:
    """One record while the listener ends at start; prints how often it was launched."""
    handler = astralog_logging.AstralogHandler(flush_interval=0.1, shutdown_timeout=0.5)
    root.addHandler(handler)
    log.info("one")
    clean = handler.flush(8)
    with open(launches) as f:
        print(clean, len(f.read()))


def console() -> None:
    """6000 console lines to a stdout nobody reads; says on stderr how long they took."""
    handler = astralog_logging.AstralogHandler(enabled=False, console=True)
    root.addHandler(handler)
    started = time.monotonic()
    for i in range(6000):
        log.info("line %d %s", i, "x" * 1000)
    took = time.monotonic() - started
    sys.stderr.write(f"took {took:.2f} dropped {handler.stats()['console_dropped']}\n")
    sys.stderr.flush()
    os._exit(0)  # stdout is still full: a normal exit would block flushing it


SCENARIOS: Dict[str, Callable[..., None]] = {
    "echoed": echoed, "one_failing": one_failing, "join": join, "join_child": join_child,
    "main_script_callback": main_script_callback, "side_callback": side_callback,
    "listener_session": listener_session, "no_start": no_start, "console": console,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]](*sys.argv[2:])
