"""``LocalDrain``: a real drain inside the test process, for our tests and our users'.

It speaks real HTTP on a free 127.0.0.1 port, applies protocol.md as strictly as any
drain, and can misbehave on demand, so a test pins what a sender does against the real
thing rather than a mock::

    import logging
    from astralog_logging import AstralogHandler
    from astralog_logging.testing import LocalDrain

    def test_errors_survive_an_outage() -> None:
        with LocalDrain() as drain:
            drain.fail_next(503, 503)  # the first two requests fail, then normal service
            handler = AstralogHandler(endpoint=drain.endpoint, token=drain.token,
                                      project_id="shop", service="web", flush_interval=0.1)
            logging.getLogger("shop").addHandler(handler)
            logging.getLogger("shop").error("payment failed")
            (record,) = drain.wait_for_records(1)
            assert record["message"] == "payment failed"
            assert [r.status for r in drain.requests()] == [503, 503, 200]
            drain.assert_no_errors()
            logging.getLogger("shop").removeHandler(handler)
            handler.close()

Processes forked or spawned by the test may POST to it; the drain itself stays in the
test process, and a fork child lets go of its copy of the listening socket.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ._report import agree, records
from .drain._server import DrainServer, Reply, RequestInfo
from .drain._store import Store

__all__ = ["LocalDrain", "RequestInfo"]

_RETRY_AFTER_STATUSES = frozenset({429, 503})


class _Faults:
    """The fault plan a LocalDrain scripts; consulted per request, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: Deque[Reply] = collections.deque()
        self._delay = 0.0
        self._rejected: Optional[Reply] = None
        self._ratio = 0.0
        self._ratio_reply = _failure(503, None)
        self._ratio_until = 0.0
        self._rng = random.Random(0)

    def take(self) -> Tuple[float, Optional[Reply]]:
        with self._lock:
            if self._script:
                return self._delay, self._script.popleft()
            if self._rejected is not None:
                return self._delay, self._rejected
            if (self._ratio and time.monotonic() < self._ratio_until
                    and self._rng.random() < self._ratio):
                return self._delay, self._ratio_reply
            return self._delay, None

    def script(self, replies: List[Reply]) -> None:
        with self._lock:
            self._script.extend(replies)

    def ratio(self, ratio: float, reply: Reply, seconds: Optional[float], seed: int) -> None:
        with self._lock:
            self._ratio, self._ratio_reply, self._rng = ratio, reply, random.Random(seed)
            self._ratio_until = float("inf") if seconds is None else time.monotonic() + seconds

    def delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = seconds

    def reject(self, reply: Optional[Reply]) -> None:
        with self._lock:
            self._rejected = reply

    def clear(self) -> None:
        with self._lock:
            self._script.clear()
            self._delay, self._rejected, self._ratio = 0.0, None, 0.0


class LocalDrain:
    """A protocol v1 drain on a free 127.0.0.1 port in this process; use it as a context manager.

    ``allow_errors`` is read by the ``drain`` pytest fixture: left False, a test fails if
    the drain had to refuse a body as invalid. ``page=True`` also serves the drain's page
    (``page_url``), to look at what a test sent or to drive the page from a browser.
    """

    def __init__(self, token: str = "test-token", db_path: str = ":memory:",
                 page: bool = False) -> None:
        self.token = token
        self.allow_errors = False
        self._faults = _Faults()
        self._store = Store(db_path)
        self._server = DrainServer(port=0, token=token, store=self._store,
                                   on_request=self._on_request, faults=self._faults, page=page)
        self._arrivals = threading.Condition()
        self._requests: List[RequestInfo] = []
        self._final: Optional[Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]] = None

    @property
    def endpoint(self) -> str:
        """The URL to give a sender."""
        return self._server.endpoint

    @property
    def page_url(self) -> Optional[str]:
        """The page's address (None unless made with ``page=True``)."""
        return self._server.page_url

    def start(self) -> LocalDrain:
        """Start serving (the context manager does this)."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving; what was stored stays readable through records() and batches()."""
        if self._final is None:
            self._server.stop()  # answers in flight finish before the snapshot below
            self._final = (self._store.entries(), self._store.batches())
            self._store.close()

    def __enter__(self) -> LocalDrain:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def records(self) -> List[Dict[str, Any]]:
        """Every stored entry, as sent, in arrival order (each batch stored once)."""
        return self._final[0] if self._final is not None else self._store.entries()

    def batches(self) -> List[Dict[str, Any]]:
        """Every accepted envelope with its logs, in arrival order."""
        return self._final[1] if self._final is not None else self._store.batches()

    def requests(self) -> List[RequestInfo]:
        """Every HTTP request received, including refused, faulted and dropped ones."""
        with self._arrivals:
            return list(self._requests)

    @property
    def errors(self) -> List[RequestInfo]:
        """Requests the drain itself found invalid (400) or failed on (5xx, a drain bug)."""
        return [info for info in self.requests() if not info.injected
                and info.status is not None and (info.status == 400 or info.status >= 500)]

    def assert_no_errors(self) -> None:
        """Fail, listing each one, if any request was refused as invalid."""
        errors = self.errors
        if errors:
            lines = "\n".join(f"  {info.status} {info.error}" for info in errors)
            raise AssertionError(f"the drain refused {len(errors)} request(s):\n{lines}")

    def wait_for_records(self, n: int, timeout: float = 30.0) -> List[Dict[str, Any]]:
        """Block until at least ``n`` entries are stored and return them all; else fail."""
        if not self._wait(lambda: self._count() >= n, timeout):
            raise AssertionError(f"expected at least {records(n)} within {timeout:g} s, but "
                                 f"{self._count()} arrived; {self._recent()}")
        return self.records()

    def wait_for_requests(self, n: int, timeout: float = 30.0) -> List[RequestInfo]:
        """Block until at least ``n`` requests came in (answered or not); else fail."""
        if not self._wait(lambda: len(self._requests) >= n, timeout):
            raise AssertionError(f"expected at least {n} {agree(n, 'request', 'requests')} "
                                 f"within {timeout:g} s, but "
                                 f"{len(self.requests())} came; {self._recent()}")
        return self.requests()

    def fail_next(self, *statuses: int, retry_after: Optional[int] = None) -> None:
        """Answer the next requests with these statuses, in order, storing nothing."""
        self._faults.script([_failure(status, retry_after) for status in statuses])

    def reset_next(self, n: int = 1) -> None:
        """Read the next ``n`` requests, then close their connections without an answer."""
        dropped = Reply(None, {"error": "injected: connection closed without an answer"},
                        injected=True)
        self._faults.script([dropped] * n)

    def fail_ratio(self, ratio: float, status: int = 503, seconds: Optional[float] = None,
                   retry_after: Optional[int] = None, seed: int = 0) -> None:
        """Fail a random share (seeded) of requests for ``seconds`` (None: until cleared)."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"ratio must be between 0 and 1; got {ratio!r}")
        self._faults.ratio(ratio, _failure(status, retry_after), seconds, seed)

    def delay(self, seconds: float) -> None:
        """Make every request wait this long before it is answered (0 to stop)."""
        self._faults.delay(seconds)

    def reject_token(self, status: int = 401) -> None:
        """Answer every request 401 (or 403) as if the token were revoked, until cleared."""
        self._faults.reject(_failure(status, None))

    def refuse_for(self, seconds: float) -> None:
        """Close the port so connects are refused, then listen on the same port again."""
        self._server.refuse_for(seconds)

    def wait_listening(self, timeout: float = 10.0) -> None:
        """Block until the port accepts connections again (after refuse_for); else fail."""
        if not self._server.wait_listening(timeout):
            raise AssertionError(f"the drain was not listening again within {timeout:g} s")

    def clear_faults(self) -> None:
        """Back to normal service (an ongoing refuse_for still runs its course)."""
        self._faults.clear()

    def _on_request(self, info: RequestInfo) -> None:
        with self._arrivals:
            self._requests.append(info)
            self._arrivals.notify_all()

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        # Checked under the condition: a request reports itself after it is stored, and
        # its notify cannot fall between our check and our wait.
        deadline = time.monotonic() + timeout
        with self._arrivals:
            while not done():
                if self._final is not None:  # stopped: nothing more can arrive
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._arrivals.wait(remaining)
        return True

    def _count(self) -> int:
        return len(self._final[0]) if self._final is not None else self._store.count()

    def _recent(self) -> str:
        last = self.requests()[-5:]
        if not last:
            return "no request came at all"
        return "last answers: " + ", ".join(f"{info.status} {info.error or ''}".rstrip()
                                            for info in last)


def _failure(status: int, retry_after: Optional[int]) -> Reply:
    if not 400 <= status <= 599:
        raise ValueError(f"an injected failure must be a 4xx or 5xx status; got {status!r}")
    return Reply(status, {"error": f"injected: {status}"},
                 retry_after=retry_after if status in _RETRY_AFTER_STATUSES else None,
                 injected=True)
