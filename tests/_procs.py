"""Running real child interpreters and looking at real process trees, for the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Callable, Dict, List, Mapping, TypeVar

T = TypeVar("T")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LISTENER_MARK = "astralog_logging._listener"
PROGRAMS = os.path.join(ROOT, "tests", "programs")


def drain_env(endpoint: str, token: str, **extra: str) -> Dict[str, str]:
    """The environment a configured application would have."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTRALOG_")}
    env.update({"ASTRALOG_ENDPOINT": endpoint, "ASTRALOG_TOKEN": token,
                "ASTRALOG_PROJECT_ID": "tests", "ASTRALOG_SERVICE": "pytest", **extra})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def run_file(path: str, *args: str, env: Mapping[str, str],
             timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the Python file ``path`` with ``args`` in a fresh interpreter; fail on a non-zero
    exit. A file rather than ``-c``, so that spawn and forkserver children can import it."""
    return _succeeded(subprocess.run([sys.executable, path, *args], env=dict(env),
                                     capture_output=True, text=True, timeout=timeout))


def program(name: str, *args: str) -> List[str]:
    """The command line running ``tests/programs/<name>.py`` with ``args``."""
    return [sys.executable, os.path.join(PROGRAMS, f"{name}.py"), *args]


def run_program(name: str, *args: str, env: Mapping[str, str],
                timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``tests/programs/<name>.py`` in a fresh interpreter; fail on a non-zero exit."""
    return run_file(os.path.join(PROGRAMS, f"{name}.py"), *args, env=env, timeout=timeout)


def run_stopping_listener(name: str, *args: str, env: Mapping[str, str],
                          timeout: float) -> tuple[str, str]:
    """Run a program whose first stdout line is the pid of a listener it stopped (SIGSTOP);
    its stdout after that line and its stderr. The listener is killed whatever happens:
    a stopped one must not outlive a failed run."""
    proc = subprocess.Popen(program(name, *args), env=dict(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    listener = int(proc.stdout.readline())
    try:
        return proc.communicate(timeout=timeout)
    finally:
        proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(listener, signal.SIGKILL)


def _succeeded(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if proc.returncode != 0:
        raise AssertionError(f"child exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}")
    return proc


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Whether ``pid`` is running (a zombie nobody reaped is not)."""
    stat = _read(f"/proc/{pid}/stat")
    return bool(stat) and stat.rsplit(b")", 1)[1].split()[0] != b"Z"


def descendants(root: int) -> List[int]:
    """Every live process below ``root`` in the process tree."""
    children: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _read(f"/proc/{name}/stat")
            if stat:
                ppid = int(stat.rsplit(b")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def listeners_under(root: int) -> List[int]:
    """The listener processes anywhere below ``root``."""
    return [pid for pid in descendants(root)
            if LISTENER_MARK.encode() in _read(f"/proc/{pid}/cmdline")]


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Poll ``condition`` until it gives a true value, and return that value; fail with
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({timeout:g} s)")
        time.sleep(0.05)  # polling a condition with a deadline, not sleeping to sync
