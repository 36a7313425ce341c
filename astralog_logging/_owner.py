"""Who owns the listener: one queue and one listener process per configuration per tree.

The first handler in a process tree creates a *link* (the multiprocessing queue, the shared
counters, and the listener process) and its process becomes the owner. Handlers created
later with the same configuration, in the same process or in forked children, reuse it;
children of a fork inherit the link and are never owners, so they can neither stop nor
second-guess the listener.

A link outlives its handlers: when the owner closes its last handler the listener is
stopped after delivering everything, but the queue stays, so a re-configuration (Django,
gunicorn's SIGHUP and uvicorn all call dictConfig again) starts a listener on the same pipe
and records written meanwhile by other processes are not lost.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from typing import Any, Dict, Optional, Tuple

import orjson

from ._channel import Channel
from ._config import Config
from ._report import Reporter
from ._shared import SharedStats

_PIPE_SIZE = 1 << 20  # room for bursts while the listener starts or catches up
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Link:
    def __init__(self, config: Config, reporter: Reporter) -> None:
        self.config = config
        self.reporter = reporter
        self.owner_pid = os.getpid()
        # A spawn-context queue can be handed to children of any start method.
        self.queue: Any = multiprocessing.get_context("spawn").Queue()
        self.read_fd: int = self.queue._reader.fileno()
        self.write_fd: int = self.queue._writer.fileno()
        os.set_blocking(self.write_fd, False)
        try:
            fcntl.fcntl(self.write_fd, _F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:
            pass  # capped by /proc/sys/fs/pipe-max-size; the default 64 KiB still works
        self.stats = SharedStats.create()
        self.channel = Channel(self.write_fd, self.stats, config.max_queue_size, reporter)
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.handlers = 0
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Link {self.config.endpoint} owner={self.owner_pid}>"

    @property
    def is_owner(self) -> bool:
        return os.getpid() == self.owner_pid

    def listener_alive(self) -> bool:
        if self.is_owner:
            return self.process is not None and self.process.poll() is None
        pid = self.stats.listener_pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return pid > 0

    def start(self) -> None:
        """Start the listener process unless one is running (owner only)."""
        if self.process is not None and self.process.poll() is None:
            return
        settings = self.config.listener_settings()
        settings.update(read_fd=self.read_fd, stats_path=self.stats.path,
                        owner_pid=self.owner_pid)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT,
                                                        env.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-m", "astralog_logging._listener"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(self.read_fd,),
            start_new_session=True, env=env,
        )
        assert process.stdin is not None
        with process.stdin:
            process.stdin.write(orjson.dumps(settings))
        self.process = process

    def stop(self, deadline: float) -> None:
        """Deliver what is buffered, tell the listener to finish, and wait for it (owner)."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is not None:
            return
        self.channel.send_stop(deadline)
        try:
            process.wait(max(deadline - time.monotonic(), 0) + 1.0)
        except subprocess.TimeoutExpired:
            self.reporter.say("the listener did not finish in time (shutdown_timeout); "
                              "stopping it; its undelivered records are lost")
            process.kill()
            process.wait()


_links: Dict[Tuple[Any, ...], Link] = {}
_registry_lock = threading.Lock()


def attach(config: Config, reporter: Reporter) -> Link:
    """The link for this configuration: inherited, reused, or new with this process as owner."""
    with _registry_lock:
        link = _links.get(config.key)
        if link is None:
            link = _links[config.key] = Link(config, reporter)
        with link.lock:
            link.handlers += 1
            if link.is_owner:
                link.start()
    return link


def detach(link: Link, deadline: float) -> None:
    """One handler is done; the owner's last one stops the listener."""
    with link.lock:
        link.handlers -= 1
        if link.is_owner and link.handlers <= 0:
            link.stop(deadline)


def _after_fork_in_child() -> None:
    # A lock held by another thread of the parent at fork time would stay held forever.
    global _registry_lock
    _registry_lock = threading.Lock()
    for link in _links.values():
        link.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
