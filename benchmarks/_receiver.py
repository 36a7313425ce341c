"""A local receiver for one system's protocol, in a process of its own.

``python -m benchmarks._receiver KIND COUNTERS_PATH TOKEN`` listens on 127.0.0.1 (a free
port, printed on stdout), decodes what arrives, and keeps the shared counters current. It
runs apart from the process being measured so that its CPU is not billed to the system
under test, and it answers the way each real service would (202/200, or 503 while the
benchmark simulates an outage, or not at all while it simulates a stalled drain). It exits
when its stdin closes.
"""

from __future__ import annotations

import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Set, Tuple

from . import _decoders
from ._counter import Counters

HOLD_POLL = 0.05  # seconds between looks at the stall flag while a request is held
HOLD_MAX = 900.0  # a held request is let go after this long even if the stall never ends


class Tally:
    """Which sequence numbers arrived; a bitmap because a set of 10^5 ints costs ~10 MB."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.lock = threading.Lock()
        self.bits = bytearray()
        self.batches: Set[str] = set()
        self.received = self.distinct = self.duplicates = self.invalid = self.requests = 0

    def add(self, seqs: List[Optional[int]], batch_id: str = "") -> None:
        with self.lock:
            self.requests += 1
            if batch_id:
                if batch_id in self.batches:
                    self._publish()
                    return  # a retried batch: accepted, stored once (protocol.md)
                self.batches.add(batch_id)
            for seq in seqs:
                self.received += 1
                if seq is None or seq < 0:
                    self.invalid += 1
                    continue
                byte, bit = seq >> 3, 1 << (seq & 7)
                if byte >= len(self.bits):
                    self.bits.extend(bytes(max(byte + 1 - len(self.bits), 1 << 16)))
                if self.bits[byte] & bit:
                    self.duplicates += 1
                else:
                    self.bits[byte] |= bit
                    self.distinct += 1
            self._publish()

    def reject(self, outage: bool = False) -> None:
        with self.lock:
            c = self.counters
            if outage:
                c.set("rejected_in_outage", c.get("rejected_in_outage") + 1)
            c.set("rejected", c.get("rejected") + 1)

    def hold(self) -> None:
        """A stalled drain: keep this request unanswered until the stall is lifted.

        Its records are never counted: the client has timed out on it by then, so it will
        send them again or count them as failed, and counting them here too would hide a loss.
        """
        with self.lock:
            c = self.counters
            c.set("stalled_requests", c.get("stalled_requests") + 1)
        deadline = time.monotonic() + HOLD_MAX
        while self.counters.get("stall") and time.monotonic() < deadline:
            time.sleep(HOLD_POLL)

    def _publish(self) -> None:
        c = self.counters
        c.set("received", self.received)
        c.set("duplicates", self.duplicates)
        c.set("invalid", self.invalid)
        c.set("requests", self.requests)
        c.set("distinct", self.distinct)  # last: a waiter that sees it sees the rest


def http_server(kind: str, tally: Tally, token: str) -> ThreadingHTTPServer:
    decode = _decoders.HTTP_DECODERS[kind]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as every client here expects
        # Headers and body leave in two writes; with Nagle on, the second waits for the
        # client's delayed ACK (~40 ms a request), which would cap every rate measured here.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if tally.counters.get("stall"):
                tally.hold()
                self.close_connection = True  # no answer at all, as a hung drain gives
                return
            if tally.counters.get("outage"):
                tally.reject(outage=True)
                self._answer(503, b'{"error":"outage"}', "application/json")
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            seqs: List[Optional[int]] = []
            reply = decode(headers, body, token, seqs)
            if reply.status < 300:
                tally.add(seqs, reply.batch_id)
            else:
                tally.reject()
                sys.stderr.write(f"receiver {kind}: {reply.status} {reply.body[:200]!r}\n")
            self._answer(reply.status, reply.body, reply.content_type)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per request would cost more than the decoding

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def tcp_server(tally: Tally) -> socketserver.ThreadingTCPServer:
    """Logstash's json_lines over TCP: one record per line."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            rest = b""
            while True:
                data = self.request.recv(1 << 16)
                if not data:
                    break
                *lines, rest = (rest + data).split(b"\n")
                seqs: List[Optional[int]] = []
                for line in lines:
                    if line.strip():
                        _decoders.logstash_line(line, seqs)
                if seqs:
                    tally.add(seqs)

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


class _Outage:
    """The drain's fault plan: 503 to everything in an outage; in a stall, hold each request
    until the stall is lifted, then 503 (its client gave up waiting long before)."""

    def __init__(self, tally: Tally) -> None:
        from astralog_logging.drain._server import Reply

        self.tally = tally
        self.reply = Reply(503, {"error": "outage"}, injected=True)

    def take(self) -> Tuple[float, Optional[Any]]:
        if self.tally.counters.get("stall"):
            self.tally.hold()
            return 0.0, self.reply
        if self.tally.counters.get("outage"):
            self.tally.reject(outage=True)
            return 0.0, self.reply
        return 0.0, None


def drain_server(tally: Tally, token: str) -> Any:
    """The package's own drain (validation, deduplication, SQLite), counting what it stores."""
    from astralog_logging.drain import DrainServer

    def on_record(entry: Dict[str, Any]) -> None:
        meta = entry.get("meta")
        seq = meta.get("seq") if isinstance(meta, dict) else None
        tally.add([_decoders.checked(seq, entry.get("message"))])

    def on_request(info: Any) -> None:
        if not info.injected and info.status not in (200, 202):
            tally.reject()
            sys.stderr.write(f"receiver drain: {info.status} {info.error}\n")

    server = DrainServer(port=0, token=token, on_record=on_record, on_request=on_request,
                         faults=_Outage(tally))
    return server.start()


def main(argv: List[str]) -> int:
    kind, path, token = argv
    counters = Counters(path)
    tally = Tally(counters)
    if kind == "drain":
        drain = drain_server(tally, token)
        print(drain.port, flush=True)
        sys.stdin.read()
        drain.stop()
        return 0
    server = tcp_server(tally) if kind == "logstash" else http_server(kind, tally, token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin (or exits)
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
