"""The owner's link: it made the queue and the attach socket, and runs the listener.

It starts the listener as a fresh interpreter (or, where no process can be started, as
threads of this process), restarts it when it dies (after a growing pause when it keeps
dying young), and at the last handler's close tells it to deliver everything and waits,
within ``shutdown_timeout``. What a dead listener held is counted lost or unconfirmed.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Optional

import orjson

from .._config import Config
from .._ipc import _address, _leftovers
from .._ipc._ledger import OwnerLedger
from .._ipc._shared import SharedStats
from .._report import Reporter, agree, records
from ._link import Link

_PIPE_SIZE = 1 << 20  # room for bursts while the listener starts or catches up
_SOCKET_BUFFER = 4 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
# .../astralog_logging/_app/_owner.py -> the directory that holds astralog_logging
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_YOUNG = 60.0  # seconds: a listener that dies sooner is restarted after a growing pause
# The listener's interpreter: isolated (-I: no user site, no PYTHON* variables, no cwd on
# the path) and without the site scan (-S: no .pth files run), which saves it tens of
# milliseconds before its first POST. It gets this process's import path instead, so it finds
# the same requests, tenacity and orjson; should a dependency need a .pth hook to be found,
# it runs the site scan after all.
_LISTENER_CODE = (
    "import sys; sys.path[:0] = {path!r}\n"
    "try: import astralog_logging._listener._main as m\n"
    "except ImportError: import site; site.main(); import astralog_logging._listener._main as m\n"
    "m.run()"
)


class OwnerLink(Link):
    """The owner's link: it made the queue and the socket and runs the listener."""

    _exiting: Optional[subprocess.Popen[bytes]] = None  # stopped, finishing by itself

    def __init__(self, config: Config, reporter: Reporter) -> None:
        # Children of other start methods join through the address, never by pickling the
        # queue, so the fork context's queue does: its semaphores are unlinked at once and
        # need no resource-tracker process (the spawn context's would start one).
        try:
            self.queue = multiprocessing.get_context("fork").Queue()
            self.read_fd: int = self.queue._reader.fileno()
            write_fd: int = self.queue._writer.fileno()
        except (OSError, ImportError, ValueError):
            # No POSIX semaphores here (AWS Lambda has no /dev/shm): the queue's pipe is
            # all we use anyway, so a plain pipe carries the same frames.
            reporter.say("multiprocessing.Queue is unavailable here; using a plain pipe")
            self.read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        with contextlib.suppress(OSError):  # capped by pipe-max-size; 64 KiB still works
            fcntl.fcntl(write_fd, _F_SETPIPE_SZ, _PIPE_SIZE)
        _leftovers.sweep()  # what trees killed whole left behind
        self.workdir = tempfile.mkdtemp(prefix=_leftovers.PREFIX)  # 0700: this user only
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(self.workdir, "attach"))
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        stats = SharedStats.create(os.path.basename(self.workdir))  # named as a pair
        super().__init__(config, reporter, write_fd, stats, os.getpid())
        self.ledger = OwnerLedger(stats)
        self.wanted = False
        self.address = _address.Address(self.sock.getsockname(), self.stats.path,
                                        self.owner_pid)
        self.channel.start()  # its idle ticks watch the listener even if we never log
        _address.advertise(config, self.address)
        atexit.register(self.cleanup)

    def listener_alive(self) -> bool:
        if not self.is_owner:
            return super().listener_alive()
        if self.inline is not None:
            return self.inline.is_alive()
        return self.process is not None and self.process.poll() is None  # poll() reaps

    def on_dead_listener(self) -> None:
        """The owner restarts a dead listener; the pipe kept what was written meanwhile."""
        if not self.is_owner:
            super().on_dead_listener()
            return
        if not self.lock.acquire(blocking=False):
            return  # a start or stop is under way
        try:
            process = self.process
            if self.wanted and process is not None and process.poll() is not None:
                self._count_what_died(_died(process), "; starting a new one",
                                      limited=process.returncode >= 0)
                pause = self._restart_pause(process.returncode)
                self.start()
                self._next_check = time.monotonic() + pause
        finally:
            self.lock.release()

    def push_on_signal(self) -> None:
        """Also wait, within ``shutdown_timeout``, until the listener has delivered: in a
        container every process dies with the init process, which may exit as soon as this
        one does (tini, a shell), and the listener would go with its open batch."""
        deadline = time.monotonic() + self.config.shutdown_timeout
        pushed = self.channel.push(min(deadline, time.monotonic() + 1.0), in_signal_handler=True)
        # A push that went out proves this thread holds no channel lock: asking is safe.
        ticket = self.channel.request_ack(deadline) if pushed and self.is_owner else None
        while ticket is not None and self.stats.flush_acked(ticket[0]) < ticket[1]:
            if time.monotonic() >= deadline or not self.listener_alive():
                break
            time.sleep(0.005)
        self.reporter.wait_written(0.1)  # the process is about to die of the signal

    _started_at = 0.0
    _young_deaths = 0

    def _restart_pause(self, status: int) -> float:
        """A listener that ends itself young (something only its interpreter trips on) is
        restarted after 2, 4, 8 ... 60 s, not every second, so no loop of restarts. One
        killed by a signal is restarted at once."""
        if status < 0 or time.monotonic() - self._started_at > _YOUNG:
            self._young_deaths = 0
            return 1.0
        self._young_deaths += 1
        return min(2.0 ** self._young_deaths, _YOUNG)

    def _count_what_died(self, what: str, then: str = "", limited: bool = False) -> None:
        """What a dead listener held in memory is lost, but for the batch it was sending:
        the drain may have stored that one, so it is ``unconfirmed``, not lost."""
        lost, sending = self.ledger.listener_died()
        also = (f" and {sending} more that {agree(sending, 'was', 'were')} being sent and may "
                "have arrived") if sending else ""
        line = f"{what} holding {records(lost)} that {agree(lost, 'is', 'are')} lost{also}{then}"
        if limited:
            self.reporter.limited("listener-died", line)
        else:
            self.reporter.say(line)

    def start(self) -> None:
        self.wanted = True
        if self.process is not None and self.process.poll() is None:
            return
        self._let_previous_finish()
        if self.inline is not None:
            return  # already delivering from threads of this process
        settings = self.config.listener_settings()
        assert self.sock is not None
        fds = (self.read_fd, self.sock.fileno(), self.stats.fd)
        settings.update(read_fd=fds[0], socket_fd=fds[1], stats_fd=fds[2],
                        owner_pid=self.owner_pid)
        path = [_PACKAGE_PARENT, *(p or os.getcwd() for p in sys.path if p != _PACKAGE_PARENT)]
        try:
            process = subprocess.Popen(
                [sys.executable or "python3", "-I", "-S", "-X", "frozen_modules=on", "-c",
                 _LISTENER_CODE.format(path=path)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                pass_fds=fds, start_new_session=True,
            )
        except OSError as exc:
            self._start_inline(exc)
            return
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError), process.stdin:
            process.stdin.write(orjson.dumps(settings))
        self.process = process
        self._started_at = time.monotonic()
        self.stats.listener_pid = process.pid

    def _start_inline(self, why: OSError) -> None:
        from .._listener import _main  # requests and tenacity load only where they run

        self.reporter.say(f"cannot start a listener process ({why.strerror}); delivering "
                          "from threads of this process instead")
        assert self.sock is not None
        sock = socket.socket(fileno=os.dup(self.sock.fileno()))
        self.inline = _main.run_inline(self.config, self.read_fd, sock,
                                       SharedStats(os.dup(self.stats.fd), ""))
        self.stats.listener_pid = os.getpid()

    def stop(self, deadline: float) -> None:
        """Deliver what is buffered, tell the listener to finish, and wait for it."""
        self.wanted = False
        inline, self.inline = self.inline, None
        if inline is not None:
            self.channel.send_stop(deadline)
            inline.join(max(deadline - time.monotonic(), 0) + 1.0)
            return
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is not None:  # died just now, unnoticed: count what it held
            self._count_what_died(_died(process))
            return
        self.channel.send_stop(deadline)
        if self._wait_stopped(process, deadline + 1.0):
            # It has delivered everything and exits by itself within its quiet time; a
            # thread reaps it so that no zombie stays behind in a process that lives on.
            self._exiting = process
            threading.Thread(target=process.wait, name="astralog-reap", daemon=True).start()
            return
        process.kill()
        process.wait()
        self._count_what_died("the listener did not finish within shutdown_timeout; "
                              "it was stopped")

    def _let_previous_finish(self) -> None:
        """A re-configuration right after a stop: the stopped listener still reads the pipe
        for stragglers, and two readers must never share it (nor the sequence table)."""
        process, self._exiting = self._exiting, None
        if process is None:
            return
        try:
            process.wait(5.0)  # its quiet time is a fraction of a second
        except subprocess.TimeoutExpired:
            process.kill()

    def _wait_stopped(self, process: subprocess.Popen[bytes], deadline: float) -> bool:
        """Until the listener says "everything delivered, stopping" or exits; False when
        the deadline came first."""
        pause = 0.0005
        while self.stats.stopped_pid != process.pid and process.poll() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)  # the word is in shared memory: nothing to block on
            pause = min(pause * 2, 0.02)
        return True

    def cleanup(self) -> None:
        """Remove the advertised paths at exit; the listener holds descriptors, not paths,
        so this may run before or after logging.shutdown."""
        if self.is_owner:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.stats.unlink()


def _died(process: subprocess.Popen[bytes]) -> str:
    return f"the listener process died (exit status {process.returncode})"
