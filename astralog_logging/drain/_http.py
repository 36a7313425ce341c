"""The local drain's HTTP layer: one thread per connection, bodies read whole, replies written.

Kept apart from ``_server`` so that the drain's decisions (faults, validation, storage)
never depend on how bytes arrive: this module knows HTTP/1.1 and sockets, and asks the
``answer`` callable it is given what to reply to a complete POST on ``PATH``.

The server keeps track of its live connections, so that ``stop`` and ``refuse_for`` can
cut keep-alive connections too: closing only the listening socket would leave a client's
pooled connection talking to us, and its connects would never be refused. A connection
mid-request is let finish its answer first, so a sender never sees a reply cut in half
unless a fault asked for it. A page's event stream is such a request: it ends itself
within a tick once ``closed`` is set.

Every GET other than on ``PATH`` goes to the ``page`` callable when there is one; its
replies carry a Content-Security-Policy that allows scripts, styles and connections to
this origin only (no inline script), and are never sniffed into another type.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, Optional, Set, Tuple
from urllib.parse import urlsplit

import orjson

from .._version import __version__
from ._page import PageReply
from ._validate import MAX_BODY_BYTES, Headers

PATH = "/v1/drain"
_READ_LIMIT = MAX_BODY_BYTES + 64 * 1024  # room for gzip framing; the inflate cap decides
_DISCARD_LIMIT = 64 * 1024 * 1024  # bodies larger than this are refused unread


@dataclass(frozen=True)
class Reply:
    """What the drain answers; ``status`` None closes the connection without an answer."""

    status: Optional[int]
    payload: Dict[str, Any]
    retry_after: Optional[int] = None  # sent as Retry-After (whole seconds, RFC 9110)
    injected: bool = False  # a scripted fault, not the drain's judgement
    close: bool = False


Answer = Callable[[Headers, bytes], Tuple[Reply, Any]]  # the reply, and the body as decoded
Report = Callable[[Reply, Dict[str, str], Any, float], None]  # reply, headers, body, received
Serve = Callable[[str, Optional[str], threading.Event], PageReply]  # target, Host, closed

SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "
     "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


class TrackingHTTPServer(ThreadingMixIn, HTTPServer):
    """HTTPServer that knows its live connections, so they can be cut on demand.

    ``answer`` decides the reply to each POST on ``PATH`` and ``report`` hears about every
    request just before its answer goes out; both run on the connection's thread. ``page``
    answers other GETs (None: they are refused like any other path).
    """

    request_queue_size = 128  # many processes may connect at once; 5 would drop SYNs
    daemon_threads = True

    def __init__(self, address: Tuple[str, int], answer: Answer, report: Report,
                 read_timeout: float, page: Optional[Serve] = None) -> None:
        self.answer = answer
        self.report = report
        self.page = page
        self.closed = threading.Event()  # long answers (event streams) end when it is set
        self.read_timeout = read_timeout
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
        self.closed.set()
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
    server: TrackingHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)

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
        raw, reply = self._read_body()
        body: Any = None
        if reply is None and urlsplit(self.path).path != PATH:
            reply = Reply(404, {"error": f"no such path; POST to {PATH}"})
        elif reply is None and self.command != "POST":
            reply = Reply(405, {"error": f"{self.command} is not allowed; POST to {PATH}"})
        elif reply is None:
            try:
                reply, body = self.server.answer(self.headers, raw)
            except Exception as exc:  # a drain bug: say so, never leave the sender hanging
                traceback.print_exc()
                reply = Reply(500, {"error": f"drain bug: {exc!r}"})
        self.server.report(reply, dict(self.headers.items()), body, received)
        self._write(reply)
        if not self.server.mark(self.connection, busy=False):
            self.close_connection = True

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST

    def do_GET(self) -> None:
        page = self.server.page
        if page is None or urlsplit(self.path).path == PATH:
            self.do_POST()
            return
        _, refused = self._read_body()  # a GET with a body: read it, keep the stream in step
        if refused is not None:
            self._write(refused)
        else:
            self._write_page(page(self.path, self.headers.get("Host"), self.server.closed))
        if not self.server.mark(self.connection, busy=False):
            self.close_connection = True

    do_HEAD = do_GET

    def _write_page(self, reply: PageReply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        if reply.stream is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
            return
        self.send_header("Connection", "close")  # no length: the end of the stream is EOF
        self.end_headers()
        self.close_connection = True
        try:
            if self.command != "HEAD":
                for chunk in reply.stream:
                    self.wfile.write(chunk)
        except OSError:
            pass  # the page went away; the stream's cleanup runs below
        finally:
            close = getattr(reply.stream, "close", None)
            if close is not None:
                close()

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
