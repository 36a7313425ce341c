"""celery for real: a prefork worker with recycled children over a real Redis broker."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from astralog_logging.testing import LocalDrain

from ._procs import PROGRAMS, drain_env, free_port, listeners_under, wait_until

celery = pytest.importorskip("celery")
pytest.importorskip("redis")

@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real redis-server on 127.0.0.1, private to this module."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)

    def pong() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(pong, 10, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)


def _worker(tmp_path: Path, drain: LocalDrain, redis_url: str, pool: str,
            max_tasks: int = 25) -> subprocess.Popen[str]:
    start_method = "spawn" if pool == "prefork-spawn" else "fork"
    env = drain_env(drain.endpoint, drain.token, ASTRALOG_SERVICE="celery-test",
                    BROKER_URL=redis_url, START_METHOD=start_method)
    env["PYTHONPATH"] = f"{PROGRAMS}:{env['PYTHONPATH']}"
    with open(tmp_path / "celery.log", "w") as log:  # a file: a full pipe would block it
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", "-P",
             pool.split("-")[0], "-c", "4", "--max-tasks-per-child", str(max_tasks),
             "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)


@pytest.mark.parametrize("pool", ["prefork", "prefork-spawn", "solo", "threads"])
def test_tasks_and_failures_arrive(tmp_path: Path, drain: LocalDrain, redis_url: str,
                                   pool: str) -> None:
    """Every task record and every task-failure traceback arrives, with task ids, through
    children recycled by max_tasks_per_child (forked or spawned: the spawned ones join
    through the address); warm shutdown delivers the rest."""
    tasks = 300 if pool == "prefork" else 60
    worker = _worker(tmp_path, drain, redis_url, pool)
    client = celery.Celery("client", broker=redis_url)
    try:
        drain.wait_for_records(1, timeout=60)  # the worker is up and shipping
        for n in range(tasks):
            client.send_task("tasks.work", args=(n,))

        def ran() -> list[dict[str, Any]]:
            return [r for r in drain.records() if r["message"].endswith(" ran")]

        # the drain also holds celery's own records: wait on the tasks' ones
        wait_until(lambda: len(ran()) >= tasks, 90, "task records")
        assert len(listeners_under(worker.pid)) == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        client.close()
    assert worker.returncode == 0, (tmp_path / "celery.log").read_text()[-3000:]
    records = drain.records()
    task_records = [r for r in records if r["message"].endswith(" ran")]
    assert sorted(r["meta"]["n"] for r in task_records) == list(range(tasks))
    assert all(r["meta"]["task_name"] == "tasks.work" and r["meta"]["task_id"]
               for r in task_records)
    failures = [r for r in records if r.get("exception", {}).get("type") == "ValueError"]
    assert sorted(f["exception"]["message"] for f in failures) == sorted(
        f"boom {n}" for n in range(0, tasks, 10))
    if pool == "prefork":
        assert len({r["pid"] for r in task_records}) > 4, "children were not recycled"


def test_last_task_before_recycling_delivers_everything(
        tmp_path: Path, drain: LocalDrain, redis_url: str) -> None:
    """A child logs 2,000 records in its last task and is recycled at once (os._exit):
    all 2,000 arrive."""
    worker = _worker(tmp_path, drain, redis_url, "prefork", max_tasks=1)
    client = celery.Celery("client", broker=redis_url)
    try:
        drain.wait_for_records(1, timeout=60)
        client.send_task("tasks.burst", args=(2000,))

        def burst() -> list[int]:
            return [r["meta"]["i"] for r in drain.records() if r["message"].startswith("burst")]

        wait_until(lambda: len(burst()) >= 2000, 60, "the burst")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        client.close()
    assert sorted(burst()) == list(range(2000))
