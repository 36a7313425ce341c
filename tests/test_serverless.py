"""Serverless: ``flush_after``, a read-only /dev/shm, and app and listener frozen together.

Each scenario runs the application as a real child interpreter; freezes are real SIGSTOPs of
the application's process group and of the listener, as a sandbox freeze stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import IO, Any, Dict, Iterator, List, Optional

import pytest

from astralog_logging.exceptions import ConfigError
from astralog_logging.serverless import flush_after
from astralog_logging.testing import LocalDrain

from ._procs import ROOT, drain_env, free_port, listeners_under, program, wait_until

PER_INVOCATION = 5

def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return "gone"


@contextlib.contextmanager
def _frozen(app: int, listener: int) -> Iterator[None]:
    """App (its whole process group) and listener stopped together, as a sandbox freeze."""
    os.killpg(app, signal.SIGSTOP)
    if listener != app:
        os.kill(listener, signal.SIGSTOP)
    try:
        wait_until(lambda: _state(app) == "T" and _state(listener) == "T", 10, "the freeze")
        yield
    finally:
        if listener != app:
            os.kill(listener, signal.SIGCONT)
        os.killpg(app, signal.SIGCONT)


class _App:
    """The application as a child process in a session of its own (its process group is
    what a freeze stops); never left behind stopped or running."""

    def __init__(self, command: List[str], env: Dict[str, str]) -> None:
        self.tmp = tempfile.mkdtemp(prefix="astralog-test-")
        self.err_path = os.path.join(self.tmp, "stderr")
        self._said: Optional[str] = None
        with open(self.err_path, "w") as err:  # the app (and its listener) keep their copy
            self.proc = subprocess.Popen(
                command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                text=True, start_new_session=True)
        self.listener = int(self.line())

    @property
    def stdin(self) -> IO[str]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise AssertionError(f"the app ended ({self.proc.returncode}):\n{self.stderr()}")
        return line.strip()

    def stderr(self) -> str:
        if self._said is None:
            with open(self.err_path) as f:
                return f.read()
        return self._said

    def close(self) -> None:
        for pid in (self.proc.pid, self.listener):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):  # a broken pipe to a killed app
                if stream is not None:
                    stream.close()
        self._said = self.stderr()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _invocations(drain: LocalDrain) -> Dict[int, List[int]]:
    found: Dict[int, List[int]] = {}
    for record in drain.records():
        found.setdefault(record["meta"]["inv"], []).append(record["meta"]["k"])
    return found


def _drive(app: _App, drain: LocalDrain, count: int, freeze: float) -> None:
    """Answer each invocation: its records must be at the drain as it returns."""
    for i in range(count):
        assert app.line() == f"returned {i}", app.stderr()
        assert sorted(_invocations(drain).get(i, [])) == list(range(PER_INVOCATION)), (
            f"invocation {i} returned before its records arrived\n{app.stderr()}")
        if freeze:
            with _frozen(app.proc.pid, app.listener):
                if i % 5 == 4:  # the drain drops its idle connections meanwhile
                    drain.refuse_for(0.05)
                    drain.wait_listening()
                time.sleep(freeze)  # the freeze itself: what the scenario is about
        app.stdin.write("go\n")
        app.stdin.flush()
    assert app.line() == f"done {app.listener}", app.stderr()


def test_every_invocation_is_delivered_before_it_returns_across_freezes(
        drain: LocalDrain) -> None:
    """40 decorated invocations, sync and async with little time left, app and listener
    frozen 0.5 s after each: each one's records are stored as it returns, all exactly once,
    and the thawed listener is never taken for dead."""
    app = _App(program("serverless_app", "40"), drain_env(drain.endpoint, drain.token))
    try:
        _drive(app, drain, 40, freeze=0.5)
    finally:
        app.close()
    records = drain.records()
    assert len(records) == 40 * PER_INVOCATION  # nothing stored twice
    assert sorted(_invocations(drain)) == list(range(40))
    assert "died" not in app.stderr() and "flush_after" not in app.stderr(), app.stderr()


def test_flush_after_is_served_by_listener_threads(drain: LocalDrain) -> None:
    """Where no process can be started, the in-process listener threads serve flush_after
    the same way, freezes included."""
    # No switch exists to force the fallback: as in a sandbox that forbids new processes,
    # starting the listener's interpreter fails with an OSError.
    app = _App(program("serverless_app", "6", "no-processes"),
               drain_env(drain.endpoint, drain.token))
    try:
        assert app.listener == app.proc.pid
        _drive(app, drain, 6, freeze=0.2)
    finally:
        app.close()
    assert len(drain.records()) == 6 * PER_INVOCATION
    assert app.stderr().count("delivering from threads of this process") == 1, app.stderr()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare(1) for a mount namespace")
def test_read_only_dev_shm_parent_and_forked_children_deliver(drain: LocalDrain) -> None:
    """With /dev/shm a read-only empty tmpfs (no POSIX semaphores, as on AWS Lambda), the
    parent's and forked children's records are all stored when the invocation returns."""
    shell = ("mount -t tmpfs -o ro tmpfs /dev/shm && exec \"$0\" \"$1\"")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", shell, *program("serverless_ro_shm")],
                          env=drain_env(drain.endpoint, drain.token), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "[]", "ok"], proc.stderr
    assert "using a plain pipe" in proc.stderr
    got = sorted((r["meta"]["who"], r["meta"]["k"]) for r in drain.records())
    assert got == sorted((who, k) for who in ("forked", "parent", "process") for k in range(50))


@pytest.mark.slow
def test_a_20_second_freeze_mid_stream_loses_nothing_and_restarts_nothing(
        drain: LocalDrain) -> None:
    """App and listener frozen together for 20 s mid-stream while the drain drops their
    keep-alive connection: every record is stored once, the batch whose request got no
    answer is resent with its id, and the same listener carries on, never reported dead."""
    app = _App(program("serverless_stream"), drain_env(drain.endpoint, drain.token))
    try:
        drain.wait_for_records(200)
        with _frozen(app.proc.pid, app.listener):
            thaw_at = time.monotonic() + 20
            drain.refuse_for(0.2)  # every kept-alive connection is cut
            drain.wait_listening()
            drain.reset_next(1)  # and the first request after the thaw gets no answer
            time.sleep(max(thaw_at - time.monotonic(), 0))  # the freeze itself
        drain.wait_for_records(len(drain.records()) + 200)  # the stream goes on
        assert listeners_under(app.proc.pid) == [app.listener]
        app.stdin.write("stop\n")
        app.stdin.flush()
        count, clean, listener = app.line().split()
        app.proc.wait(30)
    finally:
        app.close()
    assert (clean, int(listener)) == ("True", app.listener), app.stderr()
    assert sorted(r["meta"]["i"] for r in drain.records()) == list(range(int(count)))
    unanswered = [r.batch_id for r in drain.requests() if r.status is None]
    stored = [b["batch_id"] for b in drain.batches()]
    assert len(unanswered) == 1 and unanswered[0] in stored
    assert len(stored) == len(set(stored))
    assert "died" not in app.stderr() and "starting a new one" not in app.stderr()


def test_drain_down_returns_within_bound_with_outcome_unchanged() -> None:
    """With the drain down, a decorated function returns within its bound (the context's
    time left minus the margin, or flush_timeout), raises or returns exactly what it did,
    and what could not be delivered is said on stderr and counted in stats()."""
    endpoint = f"http://127.0.0.1:{free_port()}/v1/drain"  # nothing listens there
    proc = subprocess.run(program("serverless_down"), env=drain_env(endpoint, "test-token"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out: Dict[str, Any] = json.loads(proc.stdout)
    # 1 s left minus the 0.25 s margin; the listener keeps retrying for 2 s meanwhile.
    assert out["same_error"] and 0.7 <= out["first"] < 1.5, out
    assert (out["failed_first"], out["waiting_first"]) == (0, 7), out  # in the pipe or held
    assert "about 7 records still on the way when its 0.75 s wait ran out" in proc.stderr
    # Here the listener gives up within flush_timeout: the loss is counted before return.
    assert out["same_result"] and out["second"] < 6.5, out
    assert (out["failed_second"], out["held_second"]) == (14, 0), out
    assert "14 records could not be delivered since the previous flush" in proc.stderr


def test_flush_after_keeps_the_function_and_checks_its_options() -> None:
    """The decorated function keeps its name, docstring and kind (async stays async);
    wrong options fail at decoration with one ConfigError naming the option."""

    @flush_after
    def sync_fn(event: Any, context: Any) -> Any:
        """Doc."""
        return event

    @flush_after(flush_timeout=2, safety_margin=0)
    async def async_fn(event: Any, context: Any) -> Any:
        return event

    assert (sync_fn.__name__, sync_fn.__doc__) == ("sync_fn", "Doc.")
    assert inspect.iscoroutinefunction(async_fn) and async_fn.__name__ == "async_fn"
    assert sync_fn(1, None) == 1 and asyncio.run(async_fn(2, None)) == 2

    class Odd:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("an argument that breaks whoever looks at it")

    odd = Odd()
    assert sync_fn(odd, odd) is odd  # looking for a remaining time never raises
    for options in ({"flush_timeout": 0}, {"flush_timeout": -1}, {"flush_timeout": "two"},
                    {"flush_timeout": float("nan")}, {"flush_timeout": float("inf")},
                    {"flush_timeout": True}, {"safety_margin": -0.1}):
        name = next(iter(options))
        with pytest.raises(ConfigError, match=name):
            flush_after(**options)


def test_the_aws_lambda_example_delivers_each_invocation_before_it_returns(
        drain: LocalDrain) -> None:
    """examples/aws_lambda.py, run as its docstring says: both invocations' records are
    stored by the time the script ends (it then leaves without logging.shutdown)."""
    proc = subprocess.run(
        program("run_then_exit", os.path.join(ROOT, "examples", "aws_lambda.py")),
        env=drain_env(drain.endpoint, drain.token), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["200", "400"]
    assert [(r["level"], r["message"]) for r in drain.records()] == [
        ("info", "order received"), ("info", "order received"), ("warn", "order without an id")]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare(1) for a PID namespace")
def test_sigterm_in_a_container_delivers_before_the_init_process_exits(
        drain: LocalDrain) -> None:
    """In a container whose init (a shell, tini) forwards SIGTERM and exits with the app, as
    on Cloud Run: the app's default-disposition SIGTERM path waits until its records are
    delivered, so the listener is not killed with them when the namespace ends."""
    init = ("trap 'kill -TERM $child; wait $child' TERM; "
            "\"$0\" \"$1\" & child=$!; wait $child")
    proc = subprocess.Popen(
        ["unshare", "-pf", "--mount-proc", "sh", "-c", init, *program("serverless_container")],
        env=drain_env(drain.endpoint, drain.token), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            shell = int(f.read().split()[0])
        os.kill(shell, signal.SIGTERM)
        proc.wait(20)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert sorted(r["meta"]["i"] for r in drain.records()) == list(range(300))
