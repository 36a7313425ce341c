"""Soak run (issue 5): minutes of steady logging from many processes while faults strike.

The tests pin each failure mode alone; this run checks that they compose. Everything is
bounded (time, records per producer, faults per round) and stays on 127.0.0.1::

    python scripts/soak.py --minutes 10          # --minutes 1 for a quick run

The soak process owns the handler and a ``LocalDrain``; forked producers and one process
that joins by address (a ``python -c`` child configured only through ``ASTRALOG_*``) log
records that carry a unique id in ``meta``. Faults are drawn from a seeded RNG in rounds,
each round every kind once in random order, so even a one-minute run meets each of them.

At the end every id a producer says it sent is accounted for: stored at the drain, still in
the spool, counted by ``handler.stats()`` as dropped/failed/lost/malformed, or killed with
its producer. A SIGKILLed producer's unsent records cannot be seen from outside, so each
producer reports, in shared memory after every record, how many it logged and how many its
channel still held (``queue_depth``); the missing tail of a killed producer's ids counts as
killed with it up to that figure (+1 for a kill between the two writes). The exit status is
1 when a record is missing without being counted, or stored twice, or shutdown hung.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import dataclasses
import json
import logging
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Counter, Dict, List, Optional, Set, Tuple

import orjson

from astralog_logging import AstralogHandler
from astralog_logging._listener._spool import read_segment
from astralog_logging.testing import LocalDrain

MAX_PRODUCERS = 64  # progress slots: the first producers plus every replacement
LOGGER = "soak"
OWNER_LOGGER = "soak.owner"
FAULTS = ("503 storm", "429 + Retry-After", "refused connections", "drain down",
          "slow drain", "connection resets", "SIGKILL listener", "SIGKILL producer")
SETTLE_QUIET = 8.0  # seconds without new arrivals before closing (spool resends wait 5 s)
SETTLE_MAX = 120.0
JOIN_GRACE = 30.0  # a producer still running this long after its deadline is stuck in emit

# Settings the listener uses; the identity ones (endpoint, token, project, service) and the
# spool come from the environment so the joining child reads exactly the same ones.
HANDLER_SETTINGS: Dict[str, Any] = dict(
    flush_interval=0.3, timeout=2.0, shutdown_timeout=20.0, retry_max_delay=4.0,
    max_retries=8, retry_deadline=60.0, max_buffer_bytes=8 << 20,
)

JOINER = """
import json, logging, os, sys, time
from astralog_logging import AstralogHandler
sys.path.insert(0, sys.argv[4])
from soak import emit, paced
handler = AstralogHandler()
log = logging.getLogger("soak.joiner")
log.addHandler(handler)
log.setLevel(logging.INFO)
log.propagate = False
sent = paced(lambda seq: emit(log, "j0", seq), float(sys.argv[1]),
             time.monotonic() + float(sys.argv[2]), int(sys.argv[3]), 10, lambda n: None)
joined = handler._link.owner_pid != os.getpid()
handler.close()
print(json.dumps({"sent": sent, "joined": joined}))
"""


RESTART = """
import json, sys
from astralog_logging import AstralogHandler
handler = AstralogHandler(**json.loads(sys.argv[1]))
handler.flush(timeout=30.0)
handler.close()
print(json.dumps(handler.stats()))
"""


def emit(log: logging.Logger, producer: str, seq: int) -> None:
    """One record with a unique id; a mix of shapes so encoder paths get exercised too."""
    meta = {"soak_id": f"{producer}-{seq}", "producer": producer, "seq": seq}
    if seq % 97 == 13:  # over one 4 KiB frame: travels as parts
        log.info("big %s", "x" * 6000, extra={"meta": meta})
    elif seq % 23 == 5:
        try:
            raise ValueError(f"soak failure {seq}")
        except ValueError:
            log.error("handled failure", exc_info=True, extra={"meta": meta})
    elif seq % 7 == 3:
        log.warning("warning %d from %s", seq, producer, extra={"meta": meta})
    else:
        log.info("record %d from %s", seq, producer, extra={"meta": meta})


def paced(log_one: Callable[[int], None], rate: float, deadline: float, cap: int,
          burst: int, progress: Callable[[int], None]) -> int:
    """Log at ``rate`` records/s in bursts (so a kill finds records still buffered)."""
    seq = 0
    next_at = time.monotonic()
    while seq < cap and time.monotonic() < deadline:
        for _ in range(min(burst, cap - seq)):
            log_one(seq)
            seq += 1
            progress(seq)
        next_at += burst / rate
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return seq


@dataclasses.dataclass
class Producer:
    name: str
    slot: int
    process: Any  # multiprocessing.Process (fork context)
    killed: bool = False


class Soak:
    """One run: the drain and the owning handler here, producers around, faults on a timer."""

    def __init__(self, args: argparse.Namespace, workdir: str) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = workdir
        self.spool_dir = os.path.join(workdir, "spool")
        self.drain = LocalDrain(db_path=os.path.join(workdir, "drain.db")).start()
        os.environ.pop("ASTRALOG_ATTACH", None)  # never join a listener from outside
        os.environ.update(ASTRALOG_ENDPOINT=self.drain.endpoint, ASTRALOG_TOKEN=self.drain.token,
                          ASTRALOG_PROJECT_ID="soak", ASTRALOG_SERVICE="soak",
                          ASTRALOG_SPOOL_DIR=self.spool_dir)
        self.handler = AstralogHandler(**HANDLER_SETTINGS)
        root = logging.getLogger(LOGGER)
        root.addHandler(self.handler)
        root.setLevel(logging.INFO)
        root.propagate = False
        self.log = logging.getLogger(OWNER_LOGGER)  # told apart at the drain while settling
        self.ctx = multiprocessing.get_context("fork")
        self.progress = self.ctx.RawArray(ctypes.c_int64, 2 * MAX_PRODUCERS)
        self.producers: List[Producer] = []
        self.faults: Counter[str] = collections.Counter()
        self.deck: List[str] = []
        self.undo: Dict[str, float] = {}  # fault -> when to end it
        self.owner_sent = 0
        self.restarts: List[float] = []  # seconds from a listener kill to its replacement
        self.started = time.monotonic()
        self.pending_restart: Optional[Tuple[int, float]] = None  # (killed pid, when)
        self.listener_rss_kib = 0
        self.problems: List[str] = []
        self.load_seconds = args.minutes * 60.0
        self.cap = int(args.rate * self.load_seconds) + args.burst

    # -- load ----------------------------------------------------------------------------

    def start_producer(self, deadline: float) -> None:
        slot = len(self.producers)
        if slot >= MAX_PRODUCERS:
            return
        name = f"p{slot}"
        process = self.ctx.Process(target=self._produce, args=(name, slot, deadline),
                                   name=f"soak-{name}", daemon=True)
        process.start()
        self.producers.append(Producer(name, slot, process))

    def _produce(self, name: str, slot: int, deadline: float) -> None:
        log, progress = logging.getLogger(LOGGER), self.progress
        link = self.handler._link
        assert link is not None

        def report(logged: int) -> None:
            progress[2 * slot] = logged
            progress[2 * slot + 1] = link.channel.queue_depth

        paced(lambda seq: emit(log, name, seq), self.args.rate, deadline, self.cap,
              self.args.burst, report)
        # Returning runs multiprocessing's exit hook, which hands the buffer over.

    def start_joiner(self, deadline: float) -> subprocess.Popen[bytes]:
        seconds = max(deadline - time.monotonic(), 0.0)
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.Popen(
            [sys.executable, "-c", JOINER, str(self.args.rate), str(seconds), str(self.cap),
             here], stdout=subprocess.PIPE)

    def heartbeat(self) -> None:
        """The owner logs too: only its own emits make it notice and restart a dead listener
        (a quiet owner never does; see the soak's report in issue 5)."""
        emit(self.log, "o", self.owner_sent)
        self.owner_sent += 1

    # -- faults --------------------------------------------------------------------------

    def inject(self, load_end: float) -> None:
        if not self.deck:
            self.deck = list(FAULTS)
            self.rng.shuffle(self.deck)
        fault = self.deck.pop()
        rng, drain = self.rng, self.drain
        detail = ""
        if fault == "503 storm":
            seconds = rng.uniform(5, 15)
            drain.fail_ratio(0.5, 503, seconds=seconds, seed=rng.randrange(1 << 30))
            detail = f"half the requests for {seconds:.1f} s"
        elif fault == "429 + Retry-After":
            count, retry_after = rng.randint(1, 3), rng.randint(1, 3)
            drain.fail_next(*[429] * count, retry_after=retry_after)
            detail = f"{count} x, Retry-After {retry_after}"
        elif fault == "refused connections":
            seconds = rng.uniform(2, 8)
            drain.refuse_for(seconds)
            detail = f"for {seconds:.1f} s"
        elif fault == "drain down":  # longer than a batch's retries: it waits in the spool
            seconds = rng.uniform(20, 30)
            drain.refuse_for(seconds)
            detail = f"refused for {seconds:.1f} s"
        elif fault == "slow drain":  # past the 2 s client timeout about half the time
            delay, seconds = rng.uniform(0.5, 4.0), rng.uniform(5, 15)
            drain.delay(delay)
            self.undo["slow drain"] = time.monotonic() + seconds
            detail = f"{delay:.1f} s per request for {seconds:.1f} s"
        elif fault == "connection resets":
            count = rng.randint(1, 3)
            drain.reset_next(count)
            detail = f"next {count} requests"
        elif fault == "SIGKILL listener":
            detail = self.kill_listener()
        elif fault == "SIGKILL producer":
            live = [p for p in self.producers if not p.killed and p.process.is_alive()]
            if not live:
                return
            victim = rng.choice(live)
            self.catch_mid_burst(victim)
            os.kill(victim.process.pid, signal.SIGKILL)
            victim.killed = True
            victim.process.join(5)
            self.start_producer(load_end)
            detail = (f"{victim.name} after {self.progress[2 * victim.slot]} records, "
                      f"{self.progress[2 * victim.slot + 1]} buffered")
        self.faults[fault] += 1
        self.say(f"{fault}: {detail}")

    def catch_mid_burst(self, producer: Producer) -> None:
        """Wait (up to a second) for the victim to log, so its channel still holds records."""
        logged = self.progress[2 * producer.slot]
        for _ in range(1000):
            if self.progress[2 * producer.slot] != logged:
                return
            time.sleep(0.001)

    def say(self, text: str) -> None:
        """The fault timeline, on stderr: what a reproduction needs to know."""
        print(f"soak t={time.monotonic() - self.started:6.1f}s {text}", file=sys.stderr,
              flush=True)

    def kill_listener(self) -> str:
        link = self.handler._link
        assert link is not None
        pid = link.stats.listener_pid
        at_risk = link.stats.get("at_risk")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return f"pid {pid} was already gone"
        if self.pending_restart is None:
            self.pending_restart = (pid, time.monotonic())
        return f"pid {pid}, at_risk {at_risk}"

    def check_restart(self) -> None:
        pending, link = self.pending_restart, self.handler._link
        if pending is None or link is None:
            return
        if link.stats.listener_pid != pending[0]:
            self.restarts.append(time.monotonic() - pending[1])
            self.pending_restart = None

    def end_due_faults(self, now: float) -> None:
        if self.undo.get("slow drain", float("inf")) <= now:
            self.drain.delay(0)
            del self.undo["slow drain"]

    def sample_listener(self) -> None:
        link = self.handler._link
        if link is None:
            return
        try:
            with open(f"/proc/{link.stats.listener_pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        self.listener_rss_kib = max(self.listener_rss_kib, int(line.split()[1]))
        except (OSError, ValueError):
            pass

    # -- the run -------------------------------------------------------------------------

    def run(self) -> int:
        started = self.started = time.monotonic()
        load_end = started + self.load_seconds
        for _ in range(self.args.producers):
            self.start_producer(load_end)
        joiner = self.start_joiner(load_end)
        next_fault = started + self.rng.uniform(3, 6)
        while (now := time.monotonic()) < load_end:
            self.heartbeat()
            self.sample_listener()
            self.check_restart()
            self.end_due_faults(now)
            if now >= next_fault:
                self.inject(load_end)
                next_fault = now + self.rng.uniform(self.args.gap / 2, self.args.gap * 1.5)
            time.sleep(0.2)
        self.drain.clear_faults()  # an ongoing refuse_for runs its course
        self.drain.wait_listening(60)
        joined = self.finish_producers(joiner, load_end)
        self.settle()
        close_seconds = self.stop_during_outage()
        left = self.spooled_ids()
        by_restart = self.restart_from_spool()
        return self.report(joined, time.monotonic() - started, close_seconds, left, by_restart)

    def stop_during_outage(self) -> float:
        """The application stops while the drain is down: close() must stay bounded and
        what it could not deliver must wait in the spool for the next start."""
        shutdown_timeout = float(HANDLER_SETTINGS["shutdown_timeout"])
        self.drain.refuse_for(shutdown_timeout + 10)
        self.say(f"outage at stop: refused for {shutdown_timeout + 10:g} s, then close()")
        for _ in range(200):
            self.heartbeat()
        started = time.monotonic()
        self.handler.close()
        seconds = time.monotonic() - started
        if seconds > shutdown_timeout + 2.0:  # the promise is +1 s; +1 s for a busy machine
            self.problems.append(f"close() took {seconds:.1f} s with the drain down "
                                 f"(shutdown_timeout {shutdown_timeout:g} s)")
        self.drain.wait_listening(60)
        return seconds

    def finish_producers(self, joiner: subprocess.Popen[bytes], load_end: float) -> int:
        """Wait for the producers' exits; returns what the joining child sent."""
        for producer in self.producers:
            producer.process.join(max(load_end + JOIN_GRACE - time.monotonic(), 1.0))
            if producer.process.is_alive():
                self.problems.append(f"producer {producer.name} hung past its deadline")
                os.kill(producer.process.pid, signal.SIGKILL)
                producer.process.join(5)
        try:
            out, _ = joiner.communicate(timeout=max(load_end + 60 - time.monotonic(), 1.0))
            report = json.loads(out.decode().strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            joiner.kill()
            joiner.wait()
            self.problems.append("the joining child hung or reported nothing")
            return 0
        if not report["joined"]:
            self.problems.append("the python -c child started its own listener, not joined")
        return int(report["sent"])

    def settle(self) -> None:
        """Keep the owner logging until arrivals stop, so spooled batches get resent."""
        deadline = time.monotonic() + SETTLE_MAX
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            self.heartbeat()
            self.check_restart()
            self.handler.flush(timeout=5.0)
            count = self.stored_count(owner=False)  # the heartbeats never stop arriving
            if count != last:
                last, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since >= SETTLE_QUIET:
                return
            time.sleep(0.5)

    def restart_from_spool(self) -> Dict[str, Any]:
        """The next start of the application: a new process, its own listener, same spool."""
        before = self.stored_count()
        env = {k: v for k, v in os.environ.items() if k != "ASTRALOG_ATTACH"}
        done = subprocess.run([sys.executable, "-c", RESTART, json.dumps(HANDLER_SETTINGS)],
                              env=env, stdout=subprocess.PIPE, timeout=120, check=False)
        try:
            figures: Dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.problems.append("the restarted application reported nothing")
            figures = {}
        figures["delivered"] = self.stored_count() - before
        return figures

    # -- counting ------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.workdir}/drain.db?mode=ro", uri=True)

    def stored_count(self, owner: bool = True) -> int:
        sql = "SELECT COUNT(*) FROM entries" + ("" if owner else " WHERE logger != ?")
        with contextlib.closing(self._db()) as db:
            return int(db.execute(sql, () if owner else (OWNER_LOGGER,)).fetchone()[0])

    def stored_ids(self) -> Counter[str]:
        ids: Counter[str] = collections.Counter()
        with contextlib.closing(self._db()) as db:
            for (text,) in db.execute("SELECT json FROM entries"):
                ids[orjson.loads(text).get("meta", {}).get("soak_id", "?")] += 1
        return ids

    def spooled_ids(self) -> Set[str]:
        found: Set[str] = set()
        for root, _, files in os.walk(self.spool_dir):
            for name in files:
                for _, entries in read_segment(os.path.join(root, name)):
                    found.update(orjson.loads(e)["meta"]["soak_id"] for e in entries)
        return found - set(self.stored_ids())

    def report(self, joined_sent: int, elapsed: float, close_seconds: float,
               left_at_close: Set[str], restart: Dict[str, Any]) -> int:
        stored = self.stored_ids()
        left = self.spooled_ids()
        sent: Dict[str, int] = {"o": self.owner_sent, "j0": joined_sent}
        seen_max: Dict[str, int] = collections.defaultdict(lambda: -1)
        for soak_id in list(stored) + list(left):
            name, _, seq = soak_id.rpartition("-")
            seen_max[name] = max(seen_max[name], int(seq))
        killed_tail = 0
        unexpected = 0
        for p in self.producers:
            logged = int(self.progress[2 * p.slot])
            sent[p.name] = max(logged, seen_max[p.name] + 1) if p.killed else logged
            if p.killed:  # the missing suffix of its ids, up to what its channel held
                tail = sent[p.name] - 1 - seen_max[p.name]
                killed_tail += min(tail, int(self.progress[2 * p.slot + 1]) + 1)
        for name, top in seen_max.items():
            if top >= sent.get(name, 0):
                unexpected += 1
        expected = sum(sent.values())
        unique = sum(1 for i in stored if i != "?")
        missing = expected - unique - len(left)
        stats = self.handler.stats()
        for field in ("dropped", "failed", "lost", "unconfirmed", "malformed", "sent",
                      "unspooled"):
            stats[field] += restart.get(field, 0)  # the restarted application's own counters
        counted = stats["dropped"] + stats["failed"] + stats["lost"] + stats["malformed"]
        # Records on the wire when a listener died may or may not have arrived: each of
        # them is either stored or among the missing, so they may explain that many.
        uncounted = missing - killed_tail - counted
        unexplained = max(uncounted - stats["unconfirmed"], 0)
        duplicated = sum(1 for n in stored.values() if n > 1)
        statuses = collections.Counter(str(r.status) for r in self.drain.requests())
        rows = [
            ("sent (by the producers, counted by them)", expected),
            ("received (unique ids at the drain)", unique),
            ("sent (stats: records the drain answered 200 for)", stats["sent"]),
            ("duplicated (ids stored more than once)", duplicated),
            ("dropped (stats)", stats["dropped"]),
            ("failed (stats)", stats["failed"]),
            ("lost (stats: held by a killed listener)", stats["lost"]),
            ("malformed (stats: torn multi-part entries)", stats["malformed"]),
            ("unconfirmed (stats: on the wire when a listener died)", stats["unconfirmed"]),
            ("spooled / unspooled (stats)", f"{stats['spooled']} / {stats['unspooled']}"),
            ("left in the spool at close (drain down)", len(left_at_close)),
            ("delivered from the spool by the next start", restart.get("delivered", 0)),
            ("still in the spool at the end", len(left)),
            ("killed with their producer (tail, <= reported queue_depth + 1)", killed_tail),
            ("missing ids", missing),
            ("missing and not counted", unexplained),
            ("counted but not missing (over-count)", max(-uncounted, 0)),
        ]
        print(f"\n## Soak: {self.args.minutes:g} min, seed {self.args.seed}, "
              f"{self.args.producers} forked producers + 1 joined + owner, "
              f"{self.args.rate:g} records/s each\n")
        print("| figure | records |\n|---|---:|")
        for label, value in rows:
            print(f"| {label} | {value} |")
        print("\n| fault | times |\n|---|---:|")
        for fault in FAULTS:
            print(f"| {fault} | {self.faults[fault]} |")
        print(f"\nrequests by status: {dict(sorted(statuses.items()))}; "
              f"retried attempts {stats['retried']}; batches {stats['batches']}")
        restarts = ", ".join(f"{s:.1f}" for s in self.restarts) or "none"
        print(f"listener restarts after a kill (s): {restarts}; listener max RSS "
              f"{self.listener_rss_kib / 1024:.0f} MiB; close() with the drain down "
              f"{close_seconds:.1f} s; "
              f"wall {elapsed:.0f} s; ids beyond a producer's count: {unexpected}")
        if unexplained:
            self.problems.append(f"{unexplained} records missing without being counted")
        if duplicated:
            self.problems.append(f"{duplicated} ids stored more than once")
        for problem in self.problems:
            print(f"FAIL: {problem}")
        print("PASS" if not self.problems else "FAIL")
        return 1 if self.problems else 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="logging time (default 10)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the fault schedule")
    parser.add_argument("--producers", type=int, default=4, help="forked producers")
    parser.add_argument("--rate", type=float, default=40.0, help="records/s per producer")
    parser.add_argument("--burst", type=int, default=10, help="records per burst")
    parser.add_argument("--gap", type=float, default=7.0, help="mean seconds between faults")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 60 or not 0 < args.rate <= 1000 or not 0 < args.producers <= 16:
        parser.error("keep it bounded: 0 < minutes <= 60, rate <= 1000, producers <= 16")
    with tempfile.TemporaryDirectory(prefix="astralog-soak-") as workdir:
        soak = Soak(args, workdir)
        try:
            return soak.run()
        finally:
            soak.drain.stop()


if __name__ == "__main__":
    sys.exit(main())
