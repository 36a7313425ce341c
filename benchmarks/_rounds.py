"""Interleaved emit rounds folded into one row per system, and the lifecycle table.

Emit runs go round-robin over the systems (round 0: floor, ours, recipe, peers; round 1:
again...), so a noisy minute on a shared machine lands on every system of one round rather
than on one system's whole figure. Ratios are taken within a round, then the median over
rounds is reported: the verdicts rest on them, not on one run.
"""

from __future__ import annotations

import statistics
from typing import Any, Dict, List, Optional, Tuple

Row = Tuple[str, str, Dict[str, Any], Dict[str, Any]]


def _usable(res: Dict[str, Any]) -> bool:
    return "error" not in res and bool(res.get("loss", {}).get("ok"))


def _ratio_median(rounds: Dict[int, Dict[str, Any]], base: Dict[int, Dict[str, Any]],
                  key: str) -> Optional[float]:
    ratios = [res[key] / base[r][key] for r, res in rounds.items()
              if r in base and _usable(res) and _usable(base[r]) and res.get(key)
              and base[r].get(key)]
    return statistics.median(ratios) if ratios else None


def merge_rounds(results: List[Row]) -> List[Row]:
    """One emit row per system: every run's figures pooled, within-round ratios added."""
    by_system: Dict[str, Dict[int, Dict[str, Any]]] = {}
    first: Dict[str, Tuple[Dict[str, Any], int]] = {}
    out: List[Row] = []
    for scenario, system, opts, res in results:
        if scenario != "emit":
            out.append((scenario, system, opts, res))
            continue
        by_system.setdefault(system, {})[int(opts.get("round", 0))] = res
        if system not in first:
            first[system] = (opts, len(out))
            out.append((scenario, system, opts, res))  # replaced below
    floor, ours = by_system.get("null", {}), by_system.get("ours", {})
    for system, rounds in by_system.items():
        opts, at = first[system]
        bad = [res for res in rounds.values() if not _usable(res)]
        if bad:
            out[at] = ("emit", system, opts, bad[0])
            continue
        runs = list(rounds.values())
        merged = dict(runs[0])
        for key in ("cpu_us", "exc_us"):
            merged[key] = [x for res in runs for x in res[key]]
            merged[key + "_median"] = statistics.median(merged[key])
        for key in ("p50_us", "p99_us", "listener_us_per_record", "receiver_us_per_record"):
            values = [res[key] for res in runs if res.get(key) is not None]
            merged[key] = statistics.median(values) if values else None
        merged["rounds"] = len(runs)
        merged["floor_ratio"] = _ratio_median(rounds, floor, "cpu_us_median")
        merged["ours_ratio"] = _ratio_median(ours, rounds, "cpu_us_median")
        merged["ours_exc_ratio"] = _ratio_median(ours, rounds, "exc_us_median")
        out[at] = ("emit", system, opts, merged)
    return out


def _cell(x: Optional[float], digits: int = 0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def lifecycle_table(res: Optional[Dict[str, Any]]) -> str:
    if res is None:
        return ""
    if "error" in res:
        return f"**lifecycle run FAILED**: {res['error'][:300]}"
    medians: Dict[str, Dict[str, Optional[float]]] = res["medians"]
    base = medians.get("stream", {}).get("script_ms")
    rows = []
    for name, m in medians.items():
        script = m.get("script_ms")
        over = f" (+{(script - base) / 1e3:.2f} s)" if script and base and name != "stream" \
            else ""
        note = res["errors"].get(name, "")
        rows.append("| " + " | ".join([
            res["labels"][name], _cell(m.get("import_ms"), 1), _cell(m.get("construct_ms"), 1),
            _cell(m.get("first_delivery_ms")), _cell(m.get("close_ms"), 1),
            _cell(script) + over,
            f"{res['delivered_at_exit'][name]}/{len(res['samples'][name]['script_ms'])}"
            + (f" **FAILED: {note}**" if note else "")]) + " |")
    head = ["system", "import ms (over the baseline)", "construction ms",
            "construction → first delivery confirmed, ms", "close() after delivery, ms",
            "one-record script, wall ms", "record at the receiver when the script exited"]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *rows]) + (
        f"\n\nMedians of {res['reps']} interleaved repetitions, each a fresh interpreter. "
        "Baseline for the import column: `import logging.handlers, multiprocessing.queues, "
        "orjson` already done. First delivery: construct, log one record, `flush()`, until "
        "the receiver has it (the recipe cannot flush across processes: it waits for its "
        "1 s batch timer). The script: construct, log one record, exit by the system's "
        "documented path (the recipe closed by hand).")
