"""The drain's page on a large store: how long each query takes, and what an open page costs.

``python -m benchmarks --scenarios viewer``: a store of ``entries`` entries (1,000,000 in the
full run) spread over 24 hours, written straight through ``Store``; a drain serving it
with its page in a process of its own; then

- every query the page makes (first screen, each filter, the next page, the histogram,
  the counters), timed over HTTP as a browser would see it, ``runs`` interleaved
  repetitions, median and worst;
- ingest: records/s POSTed into that drain (batches of 1,000 from two threads) with no
  page open, with one open page's live stream read by a separate process, and with the
  page open in a headless Chromium tab (when installed, as for the page's tests),
  interleaved, median of ``ingest_runs`` each.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import orjson
import requests

from ._receiving import TOKEN, child_env, end_child

LEVELS = ("info",) * 14 + ("debug",) * 3 + ("warn",) * 2 + ("error",)
SERVICES = ("web", "worker", "billing")
START = 1_795_000_000.0  # a fixed day, so every run builds the same store
DAY = 86_400.0
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
           "User-Agent": "astralog-logging/0.0.0 python/3.11"}


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}Z"


def entry(n: int, total: int, rng: random.Random) -> Dict[str, Any]:
    """Entry ``n`` of ``total``: a web-app mix; 1 in 1,000 critical, 1 in 20 with a trace."""
    level = "critical" if n % 1000 == 999 else LEVELS[rng.randrange(len(LEVELS))]
    record: Dict[str, Any] = {
        "timestamp": _stamp(START + DAY * n / total), "level": level,
        "message": f"handled order {n} for customer {rng.randrange(50_000)}",
        "logger": f"shop.module{n % 20}", "host": "web-1", "pid": 4000 + n % 8,
        "process_name": "MainProcess", "thread_name": "MainThread",
        "source": {"file": "shop/orders.py", "line": 88, "function": "handle"},
        "service": SERVICES[n % 3], "trace_id": f"trace-{n // 20}" if n % 20 == 0 else None,
        "tags": ["orders"], "meta": {"request_id": f"req-{n // 10}", "order": n,
                                     "amount": round(rng.random() * 100, 2)},
    }
    if level in ("error", "critical"):
        record["exception"] = {"type": "KeyError", "module": "builtins", "message": f"'o{n}'",
                               "stacktrace": "Traceback (most recent call last):\n  ...",
                               "frames": [{"file": "shop/orders.py", "line": 88,
                                           "function": "handle"}], "cause": None}
    return record


def build(path: str, total: int) -> float:
    """Write ``total`` entries into a new store at ``path``; seconds it took."""
    from astralog_logging.drain._store import Store

    rng = random.Random(6)
    started = time.perf_counter()
    store = Store(path)
    try:
        for first in range(0, total, 1000):
            logs = [entry(n, total, rng) for n in range(first, min(first + 1000, total))]
            store.add_batch({"project_id": "bench", "service": "web", "batch_id":
                             uuid.uuid4().hex, "sdk": {"name": "bench"}, "logs": logs})
    finally:
        store.close()
    return time.perf_counter() - started


def queries(total: int) -> List[Tuple[str, Dict[str, str]]]:
    old = total // 10  # an old request, far from the newest rows
    day = {"since": _stamp(START)[:19], "until": _stamp(START + DAY)[:19]}
    return [
        ("first screen (newest 100)", {}),
        ("level=error", {"level": "error"}),
        ("level=critical (1 in 1,000)", {"level": "critical"}),
        ("service=billing", {"service": "billing"}),
        ("logger=shop.module7", {"logger": "shop.module7"}),
        ("request_id (an old one)", {"request_id": f"req-{old // 10}"}),
        ("trace_id (an old one)", {"trace_id": f"trace-{old // 20}"}),
        ("q=customer 4242 (common words)", {"q": "customer 4242"}),
        ("q=KeyError (errors only)", {"q": "KeyError"}),
        ("q=absent text", {"q": "no-such-text-anywhere"}),
        ("since/until: one hour, 12 h ago", {"since": _stamp(START + DAY / 2)[:19],
                                             "until": _stamp(START + DAY / 2 + 3600)[:19]}),
        ("next page (before=middle)", {"before": str(total // 2)}),
        ("level=warn + service=web", {"level": "warn", "service": "web"}),
        ("histogram (15 min)", {"path": "histogram"}),
        ("histogram, 24 h, per hour", {"path": "histogram", **day}),
        ("histogram, 15 min, service=billing", {"path": "histogram", "service": "billing"}),
        ("histogram, 15 min, q=KeyError", {"path": "histogram", "q": "KeyError"}),
        ("histogram, 24 h, request_id", {"path": "histogram", **day,
                                         "request_id": f"req-{old // 10}"}),
        ("histogram, 24 h, logger=shop.module7", {"path": "histogram", **day,
                                                  "logger": "shop.module7"}),
        ("histogram, 24 h, q=absent text", {"path": "histogram", **day,
                                            "q": "no-such-text-anywhere"}),
        ("counters", {"path": "counters"}),
    ]


def _serve(db: str) -> Tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks._viewer", "serve", db],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env=child_env())
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def time_queries(url: str, total: int, runs: int) -> List[Dict[str, Any]]:
    session = requests.Session()
    timings: Dict[str, List[float]] = {}
    shapes: Dict[str, Dict[str, Any]] = {}
    for _ in range(runs):
        for name, params in queries(total):
            args = dict(params)
            path = args.pop("path", "entries")
            started = time.perf_counter()
            reply = session.get(f"{url}api/{path}", params=args, timeout=30)
            timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
            body = reply.json()
            found = body.get("counts", body.get("entries"))
            shapes[name] = {"rows": len(found) if isinstance(found, list) else 0,
                            "partial": body.get("partial", False)}
    return [{"query": name, "median_ms": statistics.median(ms), "max_ms": max(ms),
             **shapes[name]} for name, ms in timings.items()]


def _body(n: int) -> bytes:
    rng = random.Random(n)
    logs = [entry(i, 1_000_000, rng) for i in range(n * 1000, n * 1000 + 1000)]
    return orjson.dumps({"project_id": "bench", "service": "web", "batch_id": uuid.uuid4().hex,
                         "sdk": {"name": "bench"}, "logs": logs})


def ingest(url: str, batches: List[bytes]) -> float:
    """Records/s for POSTing every batch from two threads."""
    share = [batches[0::2], batches[1::2]]

    def send(mine: List[bytes]) -> None:
        with requests.Session() as session:
            for body in mine:
                key = orjson.loads(body)["batch_id"]
                reply = session.post(f"{url}v1/drain", data=body, timeout=60,
                                     headers={**HEADERS, "Idempotency-Key": key})
                reply.raise_for_status()

    threads = [threading.Thread(target=send, args=(part,)) for part in share]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(batches) * 1000 / (time.perf_counter() - started)


def _cpu(pid: int) -> float:
    """Seconds of CPU (user + system) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int) -> float:
    """Seconds of CPU process ``root`` and all its descendants have used so far."""
    children: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            total += _cpu(pid)
        todo += children.get(pid, [])
    return total


def _browser() -> Any:
    """A headless Chromium (as the page's tests use), or None when it is not installed."""
    try:
        from tests._browser import chromium

        return chromium()
    except ImportError:
        return None


def _show(browser: Any, url: str) -> None:
    """Open the page in ``browser`` and wait until it is live and its first screen drawn."""
    browser.get(url)
    deadline = time.monotonic() + 30
    while browser.find_element("id", "live-status").text != "live":
        if time.monotonic() > deadline:
            raise RuntimeError("the page did not go live in 30 s")
        time.sleep(0.05)
    time.sleep(1.0)  # the first screen, histogram and counters are fetched once


def measure_ingest(url: str, pid: int, runs: int, batches_per_run: int) -> Dict[str, Any]:
    """Records/s into the drain and its CPU per record with no page, with a client reading
    the live stream, and (when Chromium is installed) with the page open in a browser tab;
    interleaved run by run, each mode first by turns; the medians of each. ``reader_cpu_us``
    is the stream client's or the browser's own CPU per record."""
    with contextlib.ExitStack() as stack:
        opened = _browser()
        browser = None if opened is None else stack.enter_context(opened)
        modes = ["no page", "page open"] + ([] if browser is None else ["page in Chromium"])
        rates: Dict[str, List[float]] = {mode: [] for mode in modes}
        cpu: Dict[str, List[float]] = {mode: [] for mode in modes}
        reader: Dict[str, List[float]] = {mode: [] for mode in modes}
        for run in range(runs):
            for mode in modes[run % len(modes):] + modes[:run % len(modes)]:
                fresh = [_body(run * 1000 + i) for i in range(batches_per_run)]
                watcher: Optional[subprocess.Popen[str]] = None
                if mode == "page open":
                    watcher = subprocess.Popen([sys.executable, "-m", "benchmarks._viewer",
                                                "watch", url], stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, text=True,
                                               env=child_env())
                    assert watcher.stdout is not None
                    watcher.stdout.readline()  # connected
                elif browser is not None and mode == "page in Chromium":
                    _show(browser, url)
                other = None if watcher is None else watcher.pid
                if browser is not None and mode == "page in Chromium":
                    other = browser.service.process.pid  # chromedriver, Chromium below it
                try:
                    used, read = _cpu(pid), 0.0 if other is None else _tree_cpu(other)
                    rates[mode].append(ingest(url, fresh))
                    records = len(fresh) * 1000
                    cpu[mode].append((_cpu(pid) - used) * 1e6 / records)
                    reader[mode].append(0.0 if other is None else
                                        (_tree_cpu(other) - read) * 1e6 / records)
                finally:
                    if watcher is not None:
                        end_child(watcher)
                    if browser is not None and mode == "page in Chromium":
                        browser.get("about:blank")
    medians = {mode: statistics.median(values) for mode, values in rates.items()}
    cpu_medians = {mode: statistics.median(values) for mode, values in cpu.items()}
    return {"records_per_s": medians, "runs": rates, "drain_cpu_us": cpu_medians,
            "reader_cpu_us": {mode: statistics.median(v) for mode, v in reader.items()},
            "drop_pct": 100 * (1 - medians["page open"] / medians["no page"]),
            "cpu_pct": 100 * (cpu_medians["page open"] / cpu_medians["no page"] - 1)}


def run(system_name: str, system: Any, opts: Dict[str, Any]) -> Dict[str, Any]:
    total = int(opts["entries"])
    folder = tempfile.mkdtemp(prefix="astralog-viewer-bench-")
    db = os.path.join(folder, "store.db")
    try:
        built = build(db, total)
        size = os.path.getsize(db) / 2**20
        process, url = _serve(db)
        try:
            timed = time_queries(url, total, int(opts["runs"]))
            rates = measure_ingest(url, process.pid, int(opts["ingest_runs"]),
                                   int(opts["ingest_batches"]))
        finally:
            end_child(process)
        return {"entries": total, "build_s": built, "db_mib": size,
                "queries": timed, "ingest": rates}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def table(result: Dict[str, Any]) -> str:
    """The report's markdown for one run."""
    lines = [f"{result['entries']:,} entries ({result['db_mib']:.0f} MiB, written in "
             f"{result['build_s']:.0f} s); each query over HTTP, median / worst in ms:", "",
             "| query | median ms | worst ms | rows | stopped at the time limit |",
             "|---|---|---|---|---|"]
    lines += [f"| {q['query']} | {q['median_ms']:.1f} | {q['max_ms']:.1f} | {q['rows']} | "
              f"{'yes' if q['partial'] else ''} |" for q in result["queries"]]
    ingest = result["ingest"]
    base = ingest["records_per_s"]["no page"]
    lines += ["", f"Ingest, batches of 1,000 from two threads, {len(ingest['runs']['no page'])} "
              "interleaved runs each, medians:", "",
              "| mode | records/s | change | drain CPU µs/record | reader CPU µs/record |",
              "|---|---|---|---|---|"]
    for mode, rate in ingest["records_per_s"].items():
        change = _change(100 * (rate / base - 1)) if mode != "no page" else ""
        lines.append(f"| {mode} | {rate:,.0f} | {change} | "
                     f"{ingest['drain_cpu_us'][mode]:.1f} | "
                     f"{ingest.get('reader_cpu_us', {}).get(mode, 0.0):.1f} |")
    return "\n".join(lines)


def _change(pct: float) -> str:
    return f"{abs(pct):.1f} % {'faster' if pct > 0 else 'slower'}"


def _main(argv: List[str]) -> None:
    """``serve DB``: a drain with its page on DB, port on stdout, until stdin closes.
    ``watch URL``: an open page's live stream, read until stdin closes."""
    if argv[0] == "serve":
        from astralog_logging.drain import DrainServer

        with DrainServer(token=TOKEN, db_path=argv[1], page=True) as server:
            print(server.page_url, flush=True)
            sys.stdin.read()
        return
    stream = requests.get(f"{argv[1]}api/stream", stream=True, timeout=60)
    chunks = stream.iter_content(1 << 16)  # read as a browser does: in large blocks
    print("connected", flush=True)
    reader = threading.Thread(target=lambda: sum(len(chunk) for chunk in chunks), daemon=True)
    reader.start()
    sys.stdin.read()
    stream.close()


if __name__ == "__main__":
    _main(sys.argv[1:])
