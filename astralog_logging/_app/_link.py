"""A process's link to a listener: its channel, the shared counters, and the exit hooks.

Every process that logs holds one link per configuration. A process that joined a listener
another process owns (see ``_owner``) can only watch it and say when it is gone; the owner's
link (``OwnerLink``) also starts, restarts and stops it. ``join`` attaches through the
address another process advertised (see ``_ipc._address``).
"""

from __future__ import annotations

import multiprocessing.util
import os
import socket
import subprocess
import threading
import time
from typing import Any, Optional

from .._config import Config
from .._ipc import _address
from .._ipc._shared import SharedStats, alive
from .._report import Reporter
from . import _signals
from ._channel import Channel

_FLUSH_POLL_MAX = 0.02  # seconds between looks at the listener's acknowledgement


class Link:
    """What a process needs to log through a listener: a channel and the shared counters."""

    queue: Any = None
    process: Optional[subprocess.Popen[bytes]] = None
    inline: Optional[threading.Thread] = None  # the listener's threads, where no process can run
    sock: Optional[socket.socket] = None
    address: Optional[_address.Address] = None

    def __init__(self, config: Config, reporter: Reporter, write_fd: int, stats: SharedStats,
                 owner_pid: int) -> None:
        self.config = config
        self.reporter = reporter
        self.stats = stats
        self.owner_pid = owner_pid
        self.channel = Channel(write_fd, stats, config.max_queue_size, reporter,
                               watch=self.watch, overflow=config.overflow)
        self.wanted = True  # a listener should be running (the owner clears it at stop)
        self._next_check = 0.0
        self.handlers = 0
        self.lock = threading.Lock()
        # multiprocessing children end in os._exit without logging.shutdown; its own exit
        # hook (util._exit_function) runs the finalizers registered in that process (a fork
        # clears the inherited ones), so hand our buffer to the pipe there.
        self._on_multiprocessing_fork()
        multiprocessing.util.register_after_fork(self, Link._on_multiprocessing_fork)
        _signals.on_sigterm(self.push_on_signal)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.endpoint} owner={self.owner_pid}>"

    def _on_multiprocessing_fork(self) -> None:
        multiprocessing.util.Finalize(self, self.push_at_exit, exitpriority=100)
        self.channel.protect()  # that exit hook hands the buffer over: no write-through

    def push_at_exit(self) -> None:
        self.channel.push_or_count(time.monotonic() + self.config.shutdown_timeout, "exit")
        self.reporter.wait_written()  # multiprocessing children end in os._exit

    def push_on_signal(self) -> None:
        self.channel.push(time.monotonic() + 1.0, in_signal_handler=True)
        self.reporter.wait_written(0.1)  # the process is about to die of the signal

    @property
    def is_owner(self) -> bool:
        return os.getpid() == self.owner_pid

    def listener_alive(self) -> bool:
        pid = self.stats.listener_pid
        return pid <= 0 or alive(pid)  # not started yet: nothing to say

    def wait_delivered(self, deadline: float) -> bool:
        """Until the listener has taken in everything this process wrote so far (delivered,
        spooled or counted lost); False when the deadline came first."""
        ticket = self.channel.request_ack(deadline)
        if ticket is None:
            return False
        slot, token = ticket
        pause = 0.0005
        while self.stats.flush_acked(slot) < token:
            if time.monotonic() >= deadline:
                return False
            self.watch()  # a dead listener is restarted by its owner; the queue kept our frames
            time.sleep(pause)
            pause = min(pause * 1.5, _FLUSH_POLL_MAX)
        return True

    def watch(self) -> None:
        """At most once a second, from the channel's thread: is the listener alive?"""
        if self._check_due() and not self.listener_alive():
            self.on_dead_listener()

    def _check_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_check or not self.wanted:
            return False
        self._next_check = now + 1.0
        return True

    def on_dead_listener(self) -> None:
        """A process that does not own the listener can only say so."""
        self.reporter.limited("listener-gone", "the listener process is gone; records "
                              "wait in the queue until its owner starts a new one")

    def start(self) -> None:
        """Only an owner starts a listener."""

    def stop(self, deadline: float) -> None:
        """Only an owner stops a listener."""


def join(config: Config, reporter: Reporter, address: _address.Address) -> Optional[Link]:
    """Attach to a listener advertised by another process, or None if it cannot be reached
    or another user could have planted what the address names."""
    why = _address.untrusted(address)
    if why:
        reporter.say(f"not joining the listener advertised in {_address.ENV}: {why}; "
                     "starting a listener of this process's own")
        return None
    try:
        stats = SharedStats.open(address.stats_path)
    except (OSError, ValueError):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(address.socket_path)
    except OSError:
        sock.close()
        stats.close()
        return None
    sock.setblocking(False)
    link = Link(config, reporter, sock.fileno(), stats, address.owner_pid)
    link.sock = sock  # keeps the fd open
    link.address = address
    return link
