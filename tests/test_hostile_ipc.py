"""Hostile input on the process plumbing: garbage on the attach socket, logging from a
signal handler, a spool directory or attach files another user could have planted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from typing import List

from astralog_logging import _wire
from astralog_logging.testing import LocalDrain

from ._procs import ROOT, drain_env, run_script, wait_until

APP = """
import logging, os, sys, time
sys.path.insert(0, %r)
import astralog_logging
handler = astralog_logging.AstralogHandler(flush_interval=0.2, shutdown_timeout=5)
root = logging.getLogger()
root.addHandler(handler)
root.setLevel(logging.INFO)
log = logging.getLogger("hostile")
""" % ROOT


def garbage_datagrams(count: int, seed: int) -> List[bytes]:
    """Datagrams no producer of ours writes: random bytes, and real frames cut, padded,
    mislabelled or carrying a body their kind cannot have (STOP included: only the owner
    may stop the listener, and it does so on the pipe)."""
    rng = random.Random(seed)
    good = [_wire.frame(_wire.FLUSH, 7, 0, _wire.flush_body(1 << 20, 1)),
            _wire.frame(_wire.PART, 7, 0, _wire.part_bodies(b"x" * 5000)[0])]
    out = [b"\xff\xff\xff\xfc", b"", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff" + b"x" * 60,
           _wire.frame(_wire.STOP, 7, 0, _wire.stop_body(0.0)),
           _wire.frame(_wire.FLUSH, 7, 0, b"short"),
           _wire.frame(_wire.PART, 7, 0, b"\x00\x05\x00\x02chunk"),  # index past total
           _wire.frame(9, 7, 0, b"unknown kind"),
           _wire.frame(_wire.RECORDS, 7, 0, b"")]
    while len(out) < count:
        frame = rng.choice(good)
        how = rng.randrange(4)
        if how == 0:
            out.append(os.urandom(rng.randrange(1, 200)))
        elif how == 1:
            out.append(frame[: rng.randrange(len(frame))])
        elif how == 2:
            out.append(frame + os.urandom(rng.randrange(1, 20)))
        else:  # a byte of the length, pickle head or trailer changed
            i = rng.choice([*range(11), len(frame) - 1])
            out.append(frame[:i] + bytes([frame[i] ^ rng.randrange(1, 256)]) + frame[i + 1 :])
    return out


def test_no_garbage_datagram_parses_and_none_stalls_the_reader() -> None:
    """Every garbage datagram is refused alone (or is a STOP, which the socket refuses), and
    a byte stream of them never stalls a FrameReader: each feed returns."""
    datagrams = garbage_datagrams(3000, seed=11)
    for data in datagrams:
        frame = _wire.parse_datagram(data)
        assert frame is None or frame.kind == _wire.STOP, data
    reader = _wire.FrameReader()
    for data in datagrams:
        list(reader.feed(data))  # returns: no position that fails to advance
    good = _wire.frame(_wire.RECORDS, 1, 0, b"{}")
    assert _wire.parse_datagram(good) == (_wire.RECORDS, 1, 0, b"{}")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_garbage_on_the_attach_socket_costs_nothing(drain: LocalDrain) -> None:
    """The 4-byte datagram and 2,000 other bad ones, sent between records: every record
    arrives, the bad ones are counted as malformed, the listener obeys its owner's death."""
    proc = subprocess.Popen([sys.executable, "-c", APP + """
import json, signal, socket
from tests.test_hostile_ipc import garbage_datagrams
print(handler._link.stats.listener_pid, flush=True)
(path, _, _), = json.loads(os.environ["ASTRALOG_ATTACH"]).values()
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.connect(path)
sock.settimeout(10)
bad = garbage_datagrams(2000, seed=5)
for i in range(100):
    log.info("between %d", i, extra={"meta": {"i": i}})
    for data in bad[i * 20 : (i + 1) * 20]:
        sock.send(data)
clean = handler.flush(20)
deadline = time.monotonic() + 20  # the socket and the pipe are read in no fixed order
while handler.stats()["malformed"] < len(bad) and time.monotonic() < deadline:
    time.sleep(0.05)
print(clean, handler.stats()["malformed"], flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the owner is gone; its listener must notice
"""], env=drain_env(drain.endpoint, drain.token), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    listener = int(proc.stdout.readline())
    try:
        out, err = proc.communicate(timeout=90)
        assert out.split()[:1] == ["True"], err
        assert out.split()[1:] == ["2000"], err
        assert sorted(r["meta"]["i"] for r in drain.records()) == list(range(100))
        wait_until(lambda: not _alive(listener), 30, "the listener to exit after its owner")
    finally:
        proc.kill()
        if _alive(listener):
            os.kill(listener, signal.SIGKILL)


def test_logging_from_a_signal_handler_never_deadlocks(drain: LocalDrain) -> None:
    """A SIGUSR1 handler logs while the main thread logs in a loop, signals arriving every
    fraction of a millisecond: the run ends in bounded time and every record of both
    arrives exactly once."""
    out = run_script(APP + """
import signal, threading
handled = []
def on_usr1(signum, frame):
    handled.append(1)
    log.warning("from the handler", extra={"meta": {"src": "handler", "i": len(handled)}})
signal.signal(signal.SIGUSR1, on_usr1)
done = threading.Event()
def send():
    while not done.is_set():
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.0002)
threading.Thread(target=send, daemon=True).start()
for i in range(6000):  # fewer than max_queue_size: nothing may be dropped
    log.info("main %d", i, extra={"meta": {"src": "main", "i": i}})
done.set()
print(len(handled), handler.flush(30), flush=True)
""", drain_env(drain.endpoint, drain.token), timeout=60)
    handled, clean = out.stdout.split()
    assert clean == "True", out.stderr
    assert int(handled) >= 100, out.stdout  # the race was really run
    records = drain.wait_for_records(6000 + int(handled), timeout=60)
    for src, count in (("main", 6000), ("handler", int(handled))):
        got = sorted(r["meta"]["i"] for r in records if r["meta"]["src"] == src)
        assert got == list(range(src == "handler", count + (src == "handler"))), src
