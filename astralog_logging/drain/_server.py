"""The local drain's HTTP server: protocol.md over HTTP/1.1, stored in SQLite.

A request is read whole, then a fault plan (tests only) may answer it instead; otherwise
``check_request`` decides any refusal and only a clean batch reaches the store. Nothing
but an injected fault makes the drain answer 429 or 5xx, so a sender's retry tests control
exactly when it misbehaves.

Each connection gets its own thread, and the server keeps track of them so ``stop`` and
``refuse_for`` cut keep-alive connections too: closing only the listening socket would
leave a client's pooled connection talking to us, and its connects would never be
refused. After ``fork`` the child closes its copies of these sockets, otherwise a child
process would hold the port open after the parent let it go.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple
from urllib.parse import urlsplit

import orjson

from .._version import __version__
from ._store import Store
from ._validate import MAX_BODY_BYTES, Headers, Invalid, check_request, decode_body

PATH = "/v1/drain"
_READ_LIMIT = MAX_BODY_BYTES + 64 * 1024  # room for gzip framing; the inflate cap decides
_DISCARD_LIMIT = 64 * 1024 * 1024  # bodies larger than this are refused unread
_LIVE: weakref.WeakSet[DrainServer] = weakref.WeakSet()  # what a fork child must let go of


@dataclass(frozen=True)
class Reply:
    """What the drain answers; ``status`` None closes the connection without an answer."""

    status: Optional[int]
    payload: Dict[str, Any]
    retry_after: Optional[int] = None  # sent as Retry-After (whole seconds, RFC 9110)
    injected: bool = False  # a scripted fault, not the drain's judgement
    close: bool = False


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
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 token: str = "default-secret-token", db_path: str = ":memory:",
                 on_record: Optional[OnRecord] = None, on_request: Optional[OnRequest] = None,
                 faults: Optional[FaultPlan] = None, read_timeout: float = 30.0,
                 store: Optional[Store] = None, on_batch: Optional[OnBatch] = None) -> None:
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
        self._lifecycle = threading.Lock()
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._httpd: Optional[_HTTPServer] = None
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
        httpd = _HTTPServer((self.host, self._port), self)
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
        if self.store.add_batch(body, checked):
            if self._on_batch is not None:
                self._on_batch(body)
            if self._on_record is not None:
                for entry in logs:
                    self._on_record(entry)
        return Reply(200, {"accepted": len(logs)}), body

    def _report(self, reply: Reply, headers: Dict[str, str], body: Any, received: float) -> None:
        if self._on_request is None:
            return
        batch_id, entries = None, 0
        if isinstance(body, dict):
            batch_id = body.get("batch_id") if isinstance(body.get("batch_id"), str) else None
            entries = len(body["logs"]) if isinstance(body.get("logs"), list) else 0
        self._on_request(RequestInfo(reply.status, batch_id, entries, headers,
                                     headers.get("Content-Encoding"), received,
                                     reply.payload.get("error"), reply.injected))


class _HTTPServer(ThreadingMixIn, HTTPServer):
    """HTTPServer that knows its live connections, so they can be cut on demand."""

    request_queue_size = 128  # many processes may connect at once; 5 would drop SYNs
    daemon_threads = True

    def __init__(self, address: Tuple[str, int], drain: DrainServer) -> None:
        self.drain = drain
        self.connections: Dict[socket.socket, threading.Thread] = {}
        self._busy: Set[socket.socket] = set()  # mid-request: let them finish their answer
        self._closing = False
        self._connections_lock = threading.Lock()
        self._waker, self._wakee = socket.socketpair()
        super().__init__(address, _Handler)

    def serve(self) -> None:
        """Accept connections until ``wake``; unlike serve_forever, stops without polling."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wakee, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wakee:
                        return
                    try:
                        request, address = self.get_request()
                    except OSError:
                        continue
                    self.process_request(request, address)

    def wake(self) -> None:
        """Make ``serve`` return promptly."""
        self._waker.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._waker.close()
        self._wakee.close()

    def close_sockets_after_fork(self) -> None:
        """In a fork child: close this process's copies of every socket, touching no lock."""
        self.server_close()
        for connection in list(self.connections):
            connection.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered here, on the serving thread, so that a connection accepted just
        # before shutdown is always known to close_connections.
        thread = threading.Thread(target=self.process_request_thread,
                                  args=(request, client_address), daemon=True)
        with self._connections_lock:
            self.connections[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.connections.pop(request, None)
        super().shutdown_request(request)

    def mark(self, connection: socket.socket, busy: bool) -> bool:
        """Note a connection entering or leaving a request; False once it should close."""
        with self._connections_lock:
            if busy:
                self._busy.add(connection)
            else:
                self._busy.discard(connection)
            return not self._closing

    def close_connections(self) -> None:
        """Cut idle keep-alive connections now; busy ones close right after their answer."""
        with self._connections_lock:
            self._closing = True
            live = list(self.connections.items())
            idle = [connection for connection, _ in live if connection not in self._busy]
        for connection in idle:
            with contextlib.suppress(OSError):  # its own thread may have closed it already
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in live:
            if thread is not threading.current_thread():
                thread.join(timeout=5.0)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A peer hanging up mid-answer is routine here (resets, refuse_for, stop).
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a sender reuses one connection
    disable_nagle_algorithm = True  # headers and body are two writes
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.drain.read_timeout)

    def version_string(self) -> str:
        return f"astralog-drain/{__version__}"

    def parse_request(self) -> bool:
        # The first moment a request is known to be under way: from here on, stop and
        # refuse_for let it finish its answer instead of cutting it off mid-way.
        if not self.server.mark(self.connection, busy=True):
            self.close_connection = True
            return False
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: per-request lines would bury a test's output and the CLI's own lines."""

    def do_POST(self) -> None:
        received = time.monotonic()
        drain = self.server.drain
        raw, reply = self._read_body()
        body: Any = None
        if reply is None and urlsplit(self.path).path != PATH:
            reply = Reply(404, {"error": f"no such path; POST to {PATH}"})
        elif reply is None and self.command != "POST":
            reply = Reply(405, {"error": f"{self.command} is not allowed; POST to {PATH}"})
        elif reply is None:
            try:
                reply, body = drain._answer(self.headers, raw)
            except Exception as exc:  # a drain bug: say so, never leave the sender hanging
                traceback.print_exc()
                reply = Reply(500, {"error": f"drain bug: {exc!r}"})
        drain._report(reply, dict(self.headers.items()), body, received)
        self._write(reply)
        if not self.server.mark(self.connection, busy=False):
            self.close_connection = True

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_POST

    def _read_body(self) -> Tuple[bytes, Optional[Reply]]:
        if "Transfer-Encoding" in self.headers:
            return b"", Reply(400, {"error": "Transfer-Encoding: not supported; send a "
                                             "Content-Length"}, close=True)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            return b"", Reply(400, {"error": "Content-Length: expected a byte count"}, close=True)
        too_big = f"body: {length} bytes, over the limit of {MAX_BODY_BYTES}"
        if length > _DISCARD_LIMIT:
            return b"", Reply(413, {"error": too_big}, close=True)
        try:
            if length > _READ_LIMIT:  # read and drop it, so the sender gets to see the 413
                while length > 0:
                    chunk = self.rfile.read(min(length, 1 << 16))
                    if not chunk:
                        break
                    length -= len(chunk)
                return b"", Reply(413, {"error": too_big})
            raw = self.rfile.read(length)
        except socket.timeout:
            return b"", Reply(408, {"error": "timed out reading the body"}, close=True)
        if len(raw) < length:
            return raw, Reply(None, {"error": "the client closed the connection mid-body"})
        return raw, None

    def _write(self, reply: Reply) -> None:
        if reply.status is None:
            self.close_connection = True
            return
        payload = orjson.dumps(reply.payload)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if reply.retry_after is not None:
            self.send_header("Retry-After", str(reply.retry_after))
        if reply.status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        if reply.status == 405:
            self.send_header("Allow", "POST")
        if reply.close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _forget_all_after_fork() -> None:
    for drain in list(_LIVE):
        drain._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_after_fork)
