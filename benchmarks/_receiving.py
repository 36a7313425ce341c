"""Starting a receiver process and asking what it got: the benchmark's side of it."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, Optional, Tuple

from ._counter import Counters

TOKEN = "bench-token"  # a local receiver's token; nothing real
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child_env() -> Dict[str, str]:
    """The environment for our own child interpreters: the repo importable, no ASTRALOG_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTRALOG_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def end_child(process: subprocess.Popen[str]) -> None:
    """Close the stdin of a child that exits when it closes; kill it if it does not soon."""
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Receiver:
    """One receiver process for one wire format; ``kind`` names a decoder."""

    def __init__(self, kind: str, tries: int = 3) -> None:
        self.kind = kind
        self.counters = Counters.create()
        for attempt in range(tries):
            process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks._receiver", kind, self.counters.path, TOKEN],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(),
            )
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.strip():
                break
            process.wait()  # it said why on stderr; a tree being edited can fail an import
            if attempt == tries - 1:
                raise RuntimeError(f"the {kind} receiver did not start")
            time.sleep(2.0)
        self.process: Optional[subprocess.Popen[str]] = process
        self.port = int(line)
        self.pid = process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def outage(self, on: bool) -> None:
        self.counters.set("outage", int(on))

    def stall(self, on: bool) -> None:
        """Hold every request unanswered while on; when it goes off, they are let go."""
        self.counters.set("stall", int(on))

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        end_child(process)
        self.counters.unlink()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kind_for(receiver: str, opts: Dict[str, object]) -> str:
    """The receiver for a system: protocol senders go to the real drain when asked to."""
    if receiver == "astralog" and opts.get("receiver") == "drain":
        return "drain"
    return receiver


@contextlib.contextmanager
def our_handler(logger: logging.Logger, service: str = "bench",
                **settings: Any) -> Iterator[Tuple[Any, Receiver]]:  # fmt: skip
    """An AstralogHandler on ``logger``, delivering to a receiver process of its own; on
    exit it is removed and closed, and the receiver stopped (the step-by-step tools)."""
    from astralog_logging import AstralogHandler

    with Receiver("astralog") as receiver:
        handler = AstralogHandler(token=TOKEN, project_id="bench", service=service,
                                  endpoint=receiver.url + "/v1/drain", **settings)
        logger.addHandler(handler)
        try:
            yield handler, receiver
        finally:
            logger.removeHandler(handler)
            handler.close()
