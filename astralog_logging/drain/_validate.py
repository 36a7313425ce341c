"""Protocol v1 rules for a request, as pure functions (see protocol.md).

Kept apart from the server so the sender's own tests can hold an entry they built against
the very rules the drain applies (``validate_entry``), with no HTTP in between. Every error
names the offending field by its path (``logs[3].exception.cause.frames[0].line``) so a
failing test says what to fix, not merely that something is wrong.

The drain accepts exactly what protocol.md describes: required fields and types are
checked strictly (``pid`` is an int, never a bool), optional ones only when present, and
fields the page does not name are accepted untouched, because senders may add fields.
Entry checks run once per stored record, so each starts with a fast test of the valid
case and only goes field by field to say what is wrong.
"""

from __future__ import annotations

import datetime
import hmac
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Protocol, Tuple, Union

import orjson

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_ENTRY_BYTES = 256 * 1024

_Problem = Tuple[str, str]  # (path inside the entry, "" for the entry itself; what was expected)

_BATCH_ID = re.compile(r"[0-9a-f]{32}")
_TIMESTAMP = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                        r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)\.[0-9]{6}Z")
_USER_AGENT = re.compile(r"astralog-logging/[0-9A-Za-z][0-9A-Za-z.+!_-]* python/[0-9]+\.[0-9]+")
_LEVELS = frozenset({"debug", "info", "warn", "error", "critical"})
_MISSING: Any = object()
_STRING, _INTEGER, _NEEDED = "expected a string", "expected an integer", "required"
_REQUIRED: Tuple[Tuple[str, type, str], ...] = (
    ("timestamp", str, _STRING), ("level", str, _STRING), ("message", str, _STRING),
    ("logger", str, _STRING), ("host", str, _STRING), ("pid", int, _INTEGER),
    ("process_name", str, _STRING), ("thread_name", str, _STRING),
)
_LOCATION: Tuple[Tuple[str, type, str], ...] = (
    ("file", str, _STRING), ("line", int, _INTEGER), ("function", str, _STRING),
)
_days: Dict[str, bool] = {}  # "YYYY-MM-DD" -> a real date? (the regex allows Feb 30)


@dataclass(frozen=True)
class Invalid:
    """Why a request was refused, in the shape of the drain's answer.

    ``index`` is the first offending entry, or None when the envelope is at fault.
    ``status`` is 400; 413 when a size limit rather than the shape was broken (a sender
    splits on 413 but drops on 400); 401 for a missing or wrong token.
    """

    error: str
    index: Optional[int] = None
    status: int = 400


class Headers(Protocol):
    """Request headers, looked up case-insensitively (``email.message.Message`` is one)."""

    def get(self, name: str) -> Optional[str]: ...


def validate_body(body: object) -> Optional[Invalid]:
    """Why a parsed request body breaks protocol.md (envelope first, then entries), or None."""
    checked = check_body(body)
    return checked if isinstance(checked, Invalid) else None


def validate_entry(entry: object) -> Optional[str]:
    """Why one entry breaks protocol.md (its shape or the 256 KiB limit), or None."""
    found = _entry_problem(entry)
    if found is not None:
        return _join("entry", found)
    size = len(orjson.dumps(entry))
    return None if size <= MAX_ENTRY_BYTES else f"entry: {_too_large(size)}"


def check_body(body: object) -> Union[Invalid, List[bytes]]:
    """The problem with a parsed body, or its entries serialized (measured, then stored)."""
    problem = _envelope_problem(body)
    if problem is not None:
        return problem
    assert isinstance(body, dict)
    encoded = []
    for index, entry in enumerate(body["logs"]):
        found = _entry_problem(entry)
        if found is not None:
            return Invalid(_join(f"logs[{index}]", found), index)
        serialized = orjson.dumps(entry)
        if len(serialized) > MAX_ENTRY_BYTES:
            return Invalid(f"logs[{index}]: {_too_large(len(serialized))}", index, status=413)
        encoded.append(serialized)
    return encoded


def check_request(headers: Headers, body: Any, decoding: Optional[Invalid],
                  token: str) -> Union[Invalid, List[bytes]]:
    """The first reason to refuse a request, in protocol order, or its serialized entries.

    ``decoding`` is what ``decode_body`` found wrong; it is reported after the token and
    Content-Type are checked, and before Idempotency-Key and User-Agent.
    """
    scheme, _, given = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return Invalid("Authorization: expected 'Bearer <token>'", status=401)
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Invalid("Authorization: wrong token", status=401)
    media, _, params = (headers.get("Content-Type") or "").partition(";")
    charset = re.search(r"charset=\"?([^\";]*)", params, re.IGNORECASE)
    if media.strip().lower() != "application/json" or (
            charset is not None and charset.group(1).strip().lower() != "utf-8"):
        return Invalid("Content-Type: expected application/json (UTF-8), "
                       f"got {headers.get('Content-Type')!r}")
    checked = decoding or check_body(body)
    if isinstance(checked, Invalid):
        return checked
    key = headers.get("Idempotency-Key")
    if key != body["batch_id"]:
        return Invalid(f"Idempotency-Key: expected the body's batch_id {body['batch_id']!r}, "
                       f"got {key!r}")
    agent = headers.get("User-Agent")
    if agent is None or not _USER_AGENT.fullmatch(agent):
        return Invalid("User-Agent: expected 'astralog-logging/<version> python/<major.minor>', "
                       f"got {agent!r}")
    return checked


def _join(prefix: str, problem: _Problem) -> str:
    path, expected = problem
    return f"{prefix}.{path}: {expected}" if path else f"{prefix}: {expected}"


def _envelope_problem(body: object) -> Optional[Invalid]:
    if type(body) is not dict:
        return Invalid("body: expected a JSON object")
    for name in ("project_id", "service", "batch_id", "sdk", "logs"):
        if name not in body:
            return Invalid(f"{name}: required")
    for name in ("project_id", "service"):
        if type(body[name]) is not str or not body[name]:
            return Invalid(f"{name}: expected a non-empty string")
    if type(body["batch_id"]) is not str or not _BATCH_ID.fullmatch(body["batch_id"]):
        return Invalid("batch_id: expected 32 lower-case hex characters")
    if type(body["sdk"]) is not dict:
        return Invalid("sdk: expected an object")
    logs = body["logs"]
    if type(logs) is not list or not logs:
        return Invalid("logs: expected a non-empty array")
    if len(logs) > MAX_ENTRIES:
        return Invalid(f"logs: {len(logs)} entries, over the limit of {MAX_ENTRIES}", status=413)
    return None


def _entry_problem(entry: object) -> Optional[_Problem]:
    if type(entry) is not dict:
        return "", "expected an object"
    get = entry.get
    if not (type(get("timestamp")) is str and type(get("level")) is str  # same as _REQUIRED
            and type(get("message")) is str and type(get("logger")) is str
            and type(get("host")) is str and type(get("pid")) is int
            and type(get("process_name")) is str and type(get("thread_name")) is str):
        return _fields_problem(entry, _REQUIRED, "")
    timestamp = entry["timestamp"]
    if _TIMESTAMP.fullmatch(timestamp) is None or not _real_day(timestamp[:10]):
        return "timestamp", ("expected RFC 3339 UTC with microseconds and Z "
                             "(2026-11-24T10:00:00.123456Z)")
    level = entry["level"]
    if level not in _LEVELS and (not level or level != level.lower()):
        return "level", "expected a non-empty lower-case string"
    return None if len(entry) == len(_REQUIRED) else _optional_problem(entry)


def _optional_problem(entry: Dict[str, Any]) -> Optional[_Problem]:
    if type(entry.get("service", "")) is not str:
        return "service", _STRING
    for name in ("trace_id", "span_id"):
        value = entry.get(name)
        if value is not None and type(value) is not str:
            return name, "expected a string or null"
    if "source" in entry:
        found = _location_problem(entry["source"], "source")
        if found is not None:
            return found
    if "tags" in entry:
        if type(entry["tags"]) is not list:
            return "tags", "expected an array of strings"
        for position, tag in enumerate(entry["tags"]):
            if type(tag) is not str:
                return f"tags[{position}]", _STRING
    if type(entry.get("meta", {})) is not dict:
        return "meta", "expected an object"
    if type(entry.get("truncated", False)) is not bool:
        return "truncated", "expected a boolean"
    return _exception_problem(entry["exception"]) if "exception" in entry else None


def _exception_problem(exception: object) -> Optional[_Problem]:
    # A loop, not recursion: a long cause chain must not exhaust the stack.
    path = "exception"
    while True:
        if type(exception) is not dict:
            return path, "expected an object" + ("" if path == "exception" else " or null")
        for name in ("type", "module", "message", "stacktrace", "frames", "cause"):
            if name not in exception:
                return f"{path}.{name}", "required (null for none)" if name == "cause" else _NEEDED
            if name not in ("frames", "cause") and type(exception[name]) is not str:
                return f"{path}.{name}", _STRING
        frames = exception["frames"]
        if type(frames) is not list:
            return f"{path}.frames", "expected an array"
        for position, frame in enumerate(frames):
            found = _location_problem(frame, f"{path}.frames[{position}]")
            if found is not None:
                return found
        if exception["cause"] is None:
            return None
        exception, path = exception["cause"], f"{path}.cause"


def _location_problem(location: object, path: str) -> Optional[_Problem]:
    if (type(location) is dict and type(location.get("file")) is str
            and type(location.get("line")) is int and type(location.get("function")) is str):
        return None
    if type(location) is not dict:
        return path, "expected an object with file, line and function"
    return _fields_problem(location, _LOCATION, path)


def _fields_problem(obj: Dict[str, Any], fields: Tuple[Tuple[str, type, str], ...],
                    path: str) -> Optional[_Problem]:
    prefix = f"{path}." if path else ""
    for name, kind, expected in fields:
        if name not in obj:
            return prefix + name, _NEEDED
        if type(obj[name]) is not kind:
            return prefix + name, expected
    return None


def _too_large(size: int) -> str:
    return f"serialized entry is {size} bytes, over the limit of {MAX_ENTRY_BYTES}"


def _real_day(day: str) -> bool:
    known = _days.get(day)
    if known is None:
        try:
            datetime.date(int(day[:4]), int(day[5:7]), int(day[8:10]))
            known = True
        except ValueError:
            known = False
        if len(_days) > 4096:  # bounded: a drain may run for years
            _days.clear()
        _days[day] = known
    return known
