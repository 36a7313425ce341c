"""Process lifecycles for real: pools of every start method, kills, exits, dead drains."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from astralog_logging.testing import LocalDrain

from ._procs import drain_env, listeners_under, program, run_program, wait_until


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pools_of_every_start_method(drain: LocalDrain, method: str) -> None:
    """Pool and ProcessPoolExecutor children log through the one listener, whatever starts them."""
    out = run_program("processes", "pools", method, env=drain_env(drain.endpoint, drain.token))
    assert out.stdout.split() == ["[1]"], out.stdout  # one listener, seen from every child
    records = drain.wait_for_records(4000)
    assert len(records) == 4000
    assert len({r["pid"] for r in records}) >= 2


def test_child_that_returns_delivers_everything(drain: LocalDrain) -> None:
    """A multiprocessing child logs 2,000 records and returns at once: all 2,000 arrive."""
    run_program("processes", "child_returns", env=drain_env(drain.endpoint, drain.token))
    records = drain.wait_for_records(2000)
    assert [r["meta"]["i"] for r in records] == list(range(2000))


def test_killed_producers_do_not_hurt_survivors(drain: LocalDrain) -> None:
    """30 producers SIGKILLed mid-stream while 2 log steadily: every survivor record arrives
    and the survivors exit promptly."""
    out = run_program("processes", "killed_producers", timeout=120,
                      env=drain_env(drain.endpoint, drain.token))
    assert "survivors-exited-in" in out.stdout

    def survivor_records() -> list[dict[str, object]]:
        return [r for r in drain.records() if str(r["meta"]["tag"]).startswith("s")]

    wait_until(lambda: len(survivor_records()) >= 6000, 60, "the survivors' records")
    for tag in ("s0", "s1"):
        got = [r["meta"]["i"] for r in survivor_records() if r["meta"]["tag"] == tag]
        assert got == list(range(3000)), f"{tag}: {len(got)} of 3000"


def test_listener_killed_is_restarted(drain: LocalDrain) -> None:
    """SIGKILL of the listener mid-stream: the owner starts a new one and says so; what was
    in the queue meanwhile arrives."""
    proc = subprocess.Popen(
        program("processes", "restarted"), env=drain_env(drain.endpoint, drain.token),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    listener = int(proc.stdout.readline())
    os.kill(listener, signal.SIGKILL)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == ["True"]
    assert "listener process died" in err
    assert sorted(r["meta"]["i"] for r in drain.records()) == list(range(400))


def test_owner_killed_listener_delivers_and_exits(drain: LocalDrain) -> None:
    """SIGKILL of the owner: the listener delivers everything it had and exits; nothing of
    ours is left running."""
    drain.delay(0.5)  # keep records in the listener when the owner dies
    proc = subprocess.Popen(
        program("processes", "owner_killed"), env=drain_env(drain.endpoint, drain.token),
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "handed"
    listeners = listeners_under(proc.pid)
    assert len(listeners) == 1
    proc.kill()
    proc.wait()
    proc.stdout.close()
    records = drain.wait_for_records(3000, timeout=30)
    assert sorted(r["meta"]["i"] for r in records) == list(range(3000))
    wait_until(lambda: not _running(listeners[0]), 10, "the listener to follow its owner")


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's new parent may be slow to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_shutdown_with_dead_drain_is_bounded(drain: LocalDrain) -> None:
    """A drain that never answers: exit takes at most shutdown_timeout + 1 s, and says how
    many records were lost."""
    drain.fail_ratio(1.0, status=503)
    started = time.monotonic()
    proc = run_program("processes_bare", "dead_drain",
                       env=drain_env(drain.endpoint, drain.token))
    assert float(proc.stdout.split()[-1]) <= 2 + 1, proc.stdout
    assert "100 records could not be delivered" in proc.stderr
    assert time.monotonic() - started < 30


def test_idle_owner_still_restarts_a_dead_listener(drain: LocalDrain) -> None:
    """An owner that never logs (a gunicorn master between requests) notices a dead
    listener within seconds and restarts it; the workers' records wait and arrive."""
    run_program("processes", "idle_owner", env=drain_env(drain.endpoint, drain.token))
    records = drain.wait_for_records(3001)
    assert sorted(r["meta"]["i"] for r in records) == list(range(-1, 3000))


def test_no_listener_process_falls_back_to_threads(drain: LocalDrain) -> None:
    """Where no listener process can be started, one warning, then delivery from threads of
    the owner, forked children included."""
    out = run_program("processes_bare", "threads", env=drain_env(drain.endpoint, drain.token))
    assert out.stdout.split() == ["True"]
    assert out.stderr.count("delivering from threads of this process") == 1
    assert sorted(r["meta"]["i"] for r in drain.records()) == list(range(1000))
