"""Truncation: an oversized entry is cut in the issue's order, marked, and never dropped."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson
import pytest

from astralog_logging._encode._entry import EntryEncoder
from astralog_logging._encode._truncate import MIN_ENTRY_BYTES, fit
from astralog_logging.drain._validate import validate_entry

LIMIT = 4096


def base(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "timestamp": "2026-11-24T10:00:00.123456Z", "level": "error", "message": "m",
        "logger": "app", "host": "web-1", "pid": 1, "process_name": "MainProcess",
        "thread_name": "MainThread",
    }  # fmt: skip
    entry.update(fields)
    return entry


def fitted(entry: dict[str, Any], limit: int = LIMIT) -> dict[str, Any]:
    data = fit(entry, limit, orjson.dumps)
    assert len(data) <= limit
    out = orjson.loads(data)
    assert validate_entry(out) is None and out["truncated"] is True
    return dict(out)


def exception(stacktrace: str, frames: int) -> dict[str, Any]:
    return {"type": "E", "module": "m", "message": "boom", "stacktrace": stacktrace,
            "frames": [{"file": "f.py", "line": n, "function": f"fn{n}"} for n in range(frames)],
            "cause": None}  # fmt: skip


def test_message_is_cut_first_keeping_its_head() -> None:
    """When cutting the message suffices, meta is untouched and the message keeps its start."""
    out = fitted(base(message="START" + "x" * 10_000, meta={"small": "keep"}))
    assert out["message"].startswith("START") and "[truncated" in out["message"]
    assert out["meta"] == {"small": "keep"}


def test_largest_meta_values_are_cut_next() -> None:
    """After the message, the largest meta values are cut and the small ones survive."""
    meta = {"big": "b" * 8000, "list": list(range(2000)), "small": 1}
    out = fitted(base(message="short", meta=meta))
    assert out["meta"]["small"] == 1
    assert out["meta"]["big"].startswith("bbb") and "[truncated" in out["meta"]["big"]


def test_stacktrace_and_frames_keep_both_ends() -> None:
    """The stacktrace and frames lose their middle; the first and last survive, counted."""
    text = "Traceback (most recent call last):\n" + "  line\n" * 3000 + "E: boom"
    out = fitted(base(exception=exception(text, 500)))
    got = out["exception"]
    assert got["stacktrace"].startswith("Traceback") and got["stacktrace"].endswith("E: boom")
    assert got["frames"][0]["function"] == "fn0" and got["frames"][-1]["function"] == "fn499"
    assert len(got["frames"]) + got["frames_omitted"] == 500


def test_hopeless_entry_keeps_required_fields_at_the_smallest_limit() -> None:
    """Huge names, tags and meta keys still fit MIN_ENTRY_BYTES with the required fields."""
    entry = base(logger="L" * 50_000, thread_name="\x01" * 9_000, tags=["t"] * 10_000,
                 meta={f"k{n}": n for n in range(5000)}, notes=["n" * 5000])  # fmt: skip
    out = fitted(entry, MIN_ENTRY_BYTES)
    assert out["logger"].startswith("L") and "tags" not in out


def test_recursion_error_entry_fits() -> None:
    """A RecursionError's entry (a thousand frames) fits a small limit with both ends kept."""

    def recurse(n: int) -> int:
        return recurse(n + 1)

    try:
        recurse(0)
    except RecursionError:
        info = sys.exc_info()
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "deep", (), info)
    data = EntryEncoder(max_entry_bytes=LIMIT).encode(record) or b""
    assert len(data) <= LIMIT
    entry = orjson.loads(data)
    assert validate_entry(entry) is None and entry["truncated"] is True
    assert entry["exception"]["stacktrace"].endswith("maximum recursion depth exceeded")


def test_ten_megabyte_message_is_cut_quickly() -> None:
    """A 10 MB message becomes one entry at the limit, in well under a second."""
    record = logging.LogRecord("app", logging.INFO, "/a.py", 1, "x=" * 5_000_000, (), None)
    started = time.perf_counter()
    data = EntryEncoder().encode(record) or b""
    assert time.perf_counter() - started < 1.0
    assert len(data) <= 65536 and orjson.loads(data)["truncated"] is True


@pytest.mark.parametrize("limit", [MIN_ENTRY_BYTES, 2000, 65536])
def test_entries_that_fit_are_not_marked(limit: int) -> None:
    """An entry within the limit is sent as is, without a truncated field."""
    record = logging.LogRecord("app", logging.INFO, "/a.py", 1, "fine", (), None)
    assert "truncated" not in orjson.loads(EntryEncoder(max_entry_bytes=limit).encode(record)
                                           or b"")  # fmt: skip
