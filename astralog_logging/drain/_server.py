"""The local drain: protocol.md's rules over HTTP/1.1, stored in SQLite.

This module decides; ``_http`` carries bytes. A request is read whole there, then here a
fault plan (tests only) may answer it instead; otherwise ``check_request`` decides any
refusal and only a clean batch reaches the store. Nothing but an injected fault makes the
drain answer 429 or 5xx, so a sender's retry tests control exactly when it misbehaves.

``DrainServer`` owns the lifecycle: start, stop, and ``refuse_for``, which closes the port
(and cuts keep-alive connections) so a client's connects are really refused, then listens
on the same port again. After ``fork`` the child closes its copies of these sockets,
otherwise a child process would hold the port open after the parent let it go.

With ``page=True`` the same port serves the read-only page (``_page``) on ``/``. Either
way the drain counts what it judged (``counters``); that is all ingest does for the page:
an open page reads new entries from the store on its own thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from ._decode import decode_body
from ._http import PATH, Reply, TrackingHTTPServer
from ._live import Counters
from ._page import Page
from ._store import Store
from ._validate import Headers, Invalid, check_request

__all__ = ["PATH", "DrainServer", "FaultPlan", "Reply", "RequestInfo"]  # Reply: for fault plans

_LIVE: weakref.WeakSet[DrainServer] = weakref.WeakSet()  # what a fork child must let go of


@dataclass(frozen=True)
class RequestInfo:
    """One HTTP request the drain got, answered or not, as a test wants to look at it."""

    status: Optional[int]  # None: the connection was closed without an answer
    batch_id: Optional[str]  # from the body, when it could be decoded
    entries: int  # len(logs), when the body could be decoded
    headers: Dict[str, str]
    content_encoding: Optional[str]
    received: float  # time.monotonic() when the request arrived
    error: Optional[str]  # the answer's error text
    injected: bool  # answered by a scripted fault


class FaultPlan(Protocol):
    """Decides per request, before anything is checked or stored, whether to misbehave."""

    def take(self) -> Tuple[float, Optional[Reply]]:
        """Seconds to wait before answering, and a reply to give instead of the real one."""


OnRecord = Callable[[Dict[str, Any]], None]
OnBatch = Callable[[Dict[str, Any]], None]
OnRequest = Callable[[RequestInfo], None]


class DrainServer:
    """A protocol v1 drain on one port: validates, deduplicates and stores what it gets.

    ``on_record`` runs once per newly stored entry, ``on_batch`` once per newly stored
    envelope (with its logs) and ``on_request`` once per HTTP request just before it is
    answered, all on the connection's thread: keep them quick and make them not raise.
    ``faults`` (``astralog_logging.testing`` has one) is consulted first.
    A ``store`` passed in is used instead of opening ``db_path`` and is left open at stop.
    ``page`` serves the page and its API on ``/`` (``page_url``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 token: str = "default-secret-token", db_path: str = ":memory:",
                 on_record: Optional[OnRecord] = None, on_request: Optional[OnRequest] = None,
                 faults: Optional[FaultPlan] = None, read_timeout: float = 30.0,
                 store: Optional[Store] = None, on_batch: Optional[OnBatch] = None,
                 page: bool = False) -> None:
        self.host = host
        self.token = token
        self.read_timeout = read_timeout
        self.store = Store(db_path) if store is None else store
        self._owns_store = store is None
        self.faults = faults
        self._port = port
        self._on_record = on_record
        self._on_batch = on_batch
        self._on_request = on_request
        self.counters = Counters()
        self._page = Page(self.store, self.counters, host) if page else None
        self._lifecycle = threading.Lock()
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._httpd: Optional[TrackingHTTPServer] = None
        self._serving: Optional[threading.Thread] = None
        self._reopeners: List[threading.Thread] = []
        self._generation = 0  # bumped by refuse_for, so only the latest window reopens
        self._state = "new"  # new -> running -> stopped; "forked" in a fork child's copy

    @property
    def port(self) -> int:
        """The port, chosen by the OS when 0 was asked for (known once started)."""
        return self._port

    @property
    def endpoint(self) -> str:
        """The URL senders POST to."""
        return f"http://{self.host}:{self._port}{PATH}"

    @property
    def page_url(self) -> Optional[str]:
        """The page's address, when it is served."""
        if self._page is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/"

    def start(self) -> DrainServer:
        """Listen and serve on background threads; refuses to start twice."""
        with self._lifecycle:
            if self._state != "new":
                raise RuntimeError(f"the drain cannot start: it is {self._state}")
            self._open()
            self._state = "running"
            _LIVE.add(self)
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections, close the store it opened; safe to call twice."""
        if self._state == "forked":  # the parent owns the sockets and the store
            return
        with self._lifecycle:
            if self._state == "stopped":
                return
            self._state = "stopped"
            self._stopping.set()
            self._close()
            _LIVE.discard(self)
        for thread in self._reopeners:
            thread.join()
        if self._owns_store:
            self.store.close()

    def refuse_for(self, seconds: float) -> None:
        """Close the port now so connects are refused; listen on the same port again later."""
        with self._lifecycle:
            if self._state != "running":
                raise RuntimeError(f"the drain cannot refuse connections: it is {self._state}")
            self._close()
            self._generation += 1
            generation = self._generation
        thread = threading.Thread(target=self._reopen, args=(seconds, generation),
                                  name="astralog-drain-reopen", daemon=True)
        self._reopeners.append(thread)
        thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """Wait until the port accepts connections (again); False on timeout."""
        return self._listening.wait(timeout)

    def __enter__(self) -> DrainServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _open(self) -> None:
        httpd = TrackingHTTPServer((self.host, self._port), self._answer, self._report,
                                   self.read_timeout,
                                   None if self._page is None else self._page.answer)
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._serving = threading.Thread(target=httpd.serve, name=f"astralog-drain-{self._port}",
                                         daemon=True)
        self._serving.start()
        self._listening.set()

    def _close(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._listening.clear()
        httpd.wake()
        if self._serving is not None:
            self._serving.join()
        httpd.server_close()  # the port is closed before connections are cut
        httpd.close_connections()

    def _reopen(self, seconds: float, generation: int) -> None:
        if self._stopping.wait(seconds):
            return
        for _ in range(100):
            with self._lifecycle:
                if generation != self._generation or self._state != "running":
                    return
                with contextlib.suppress(OSError):  # another socket briefly holds the port
                    self._open()
                    return
            if self._stopping.wait(0.05):
                return
        print(f"astralog drain: port {self._port} stayed taken; not listening", file=sys.stderr)

    def _forget_after_fork(self) -> None:
        # In a fork child: close our copies of the parent's sockets without taking locks a
        # parent thread may have held at fork time. close(), never shutdown(): the kernel
        # sockets are shared, and shutdown would cut the parent's connections.
        self._state = "forked"
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.close_sockets_after_fork()

    def _answer(self, headers: Headers, raw: bytes) -> Tuple[Reply, Any]:
        """The reply to one POST on the drain's path, and the body as far as it decoded."""
        body, decoding = decode_body(headers.get("Content-Encoding"), raw)
        if self.faults is not None:
            delay, fault = self.faults.take()
            if delay > 0:
                self._stopping.wait(delay)
            if fault is not None:
                return fault, body
        checked = check_request(headers, body, decoding, self.token)
        if isinstance(checked, Invalid):
            payload: Dict[str, Any] = {"error": checked.error}
            if checked.index is not None:  # absent, not null, when the envelope is at fault
                payload["index"] = checked.index
            return Reply(checked.status, payload), body
        logs = body["logs"]
        first = self.store.store_batch(body, checked)
        if first is None:
            self.counters.duplicate()
        else:
            self.counters.stored(len(logs))
            if self._on_batch is not None:
                self._on_batch(body)
            if self._on_record is not None:
                for entry in logs:
                    self._on_record(entry)
        return Reply(200, {"accepted": len(logs)}), body

    def _report(self, reply: Reply, headers: Dict[str, str], body: Any, received: float) -> None:
        if reply.status is None or reply.status >= 400:
            self.counters.refused(reply.status, reply.payload.get("error"), reply.injected)
        if self._on_request is None:
            return
        batch_id, entries = None, 0
        if isinstance(body, dict):
            batch_id = body.get("batch_id") if isinstance(body.get("batch_id"), str) else None
            entries = len(body["logs"]) if isinstance(body.get("logs"), list) else 0
        self._on_request(RequestInfo(reply.status, batch_id, entries, headers,
                                     headers.get("Content-Encoding"), received,
                                     reply.payload.get("error"), reply.injected))


def _forget_all_after_fork() -> None:
    for drain in list(_LIVE):
        drain._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_after_fork)
