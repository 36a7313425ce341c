"""A LogRecord read into an entry's parts, each read so that user code cannot break it.

Which attributes are a user's extras (``tail_keys``: only those added after
``LogRecord.__init__``, found without scanning the record's two dozen own attributes),
the level's protocol name, the host. Then the parts user code can break: a ``%``-format
that does not match its args, a msg whose ``__str__`` raises, a Formatter with a typo, a
custom level, tags that are not strings, a half-initialised OpenTelemetry, a
``before_send`` with a bug. Each still yields its field, and a note says what was fixed
up. The encoder calls these off its fast path, or where the fast path's own test (one
dict lookup) failed.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import sys
import threading
from collections.abc import Mapping
from itertools import islice
from typing import Any, Callable, Optional

from ._sanitize import CUT_NOTE
from ._values import add_note, describe, safe_repr, safe_str

__all__ = [
    "HOST",
    "INIT_COUNT",
    "LEVELS",
    "RESERVED_ATTRS",
    "BeforeSend",
    "apply_before_send",
    "fix_fields",
    "formatted",
    "level_name",
    "merge_explicit",
    "merge_tags",
    "otel_ids",
    "process_name",
    "set_service",
    "tail_keys",
    "unformatted",
]

BeforeSend = Callable[[dict[str, Any]], Optional[dict[str, Any]]]

# Every attribute a plain LogRecord has on this Python, plus what formatters add and what
# this package reads as fields. Anything else on a record is a user's extra -> meta.
_INIT_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
INIT_COUNT = len(_INIT_ATTRS)
RESERVED_ATTRS: frozenset[str] = _INIT_ATTRS | {
    "message", "asctime", "taskName", "meta", "tags", "service",
}  # fmt: skip

LEVELS = {
    "DEBUG": "debug", "INFO": "info", "WARNING": "warn", "WARN": "warn",
    "ERROR": "error", "CRITICAL": "critical", "FATAL": "critical",
}  # fmt: skip
HOST = safe_str(socket.gethostname()).encode("utf-8", "backslashreplace").decode() or "unknown"

_REQUIRED = {
    "timestamp": str, "level": str, "message": str, "logger": str, "host": str,
    "pid": int, "process_name": str, "thread_name": str,
}  # fmt: skip


def tail_keys(attrs: dict[str, Any]) -> list[str]:
    """The attributes added after LogRecord.__init__ (extras, formatter output), in order.

    They sit after __init__'s own, so the scan runs back from the end to the first of
    those; the count check catches attributes set *before* __init__ (a custom record
    factory), which only the full scan finds.
    """
    tail = []
    for key in reversed(attrs):
        if key in _INIT_ATTRS:
            break
        tail.append(key)
    if len(attrs) - len(tail) != INIT_COUNT:
        return [key for key in attrs if key not in _INIT_ATTRS]
    tail.reverse()
    return tail


def fix_fields(entry: dict[str, Any], notes: list[str]) -> None:
    """Repair the fields read from record attributes that LogRecord.__init__ did not set.

    ``makeLogRecord({...})``, a custom record factory or a hand-set attribute can leave a
    name that is not a string or a pid that is not an int, and the drain refuses such an
    entry. A missing value (None, the stdlib's ``logProcesses = False``...) is filled in
    silently, as logging would have; a wrong type is converted, with a note.
    """
    pid = entry["pid"]
    if type(pid) is not int or not pid:
        if pid:
            add_note(notes, f"pid: a {type(pid).__name__}, replaced by this process's")
        entry["pid"] = os.getpid()
    entry["logger"] = _text(entry["logger"], "logger", "root", notes)
    if not entry["process_name"] or type(entry["process_name"]) is not str:
        entry["process_name"] = _text(entry["process_name"], "process_name", process_name(),
                                      notes)  # fmt: skip
    if not entry["thread_name"] or type(entry["thread_name"]) is not str:
        entry["thread_name"] = _text(entry["thread_name"], "thread_name",
                                     threading.current_thread().name, notes)  # fmt: skip
    source = entry["source"]
    source["file"] = _text(source["file"], "source.file", "(unknown file)", notes)
    source["function"] = _text(source["function"], "source.function", "(unknown function)",
                               notes)  # fmt: skip
    line = source["line"]
    if type(line) is not int:
        if line is not None:
            add_note(notes, f"source.line: a {type(line).__name__}, sent as 0")
        source["line"] = 0


def _text(value: Any, where: str, missing: str, notes: list[str]) -> str:
    if type(value) is str:
        return value if value or where == "logger" else missing
    if value is None:
        return missing
    add_note(notes, f"{where}: a {type(value).__name__}, sent as a string")
    return safe_str(value)


def merge_explicit(meta: dict[Any, Any], explicit: Any, notes: list[str], max_keys: int) -> None:
    """``extra={"meta": {...}}``: the explicit channel, so it wins over plain extra keys.

    Only the first ``max_keys`` are copied: more could never fit an entry, and copying a
    million keys would cost the caller what the entry limit is meant to bound.
    """
    if type(explicit) is dict or isinstance(explicit, Mapping):  # the ABC check is slow
        if len(explicit) <= max_keys:
            meta.update(explicit)
            return
        meta.update(islice(explicit.items(), max_keys))
        add_note(notes, f"meta: {len(explicit) - max_keys} of {len(explicit)} items {CUT_NOTE}")
    elif explicit is not None:
        meta["meta"] = explicit
        add_note(notes, f"meta: extra 'meta' was a {type(explicit).__name__}, not a mapping")


def unformatted(record: logging.LogRecord, error: Exception, notes: list[str]) -> str:
    """The msg unformatted plus each arg's repr, when ``msg % args`` (or ``str(msg)``) fails."""
    msg = safe_str(record.msg)
    args = record.args
    if not args:
        add_note(notes, f"message: str() of the msg failed ({describe(error)}); sent its repr")
        return msg
    if isinstance(args, Mapping):
        shown = ", ".join(f"{safe_repr(k)}: {safe_repr(v)}" for k, v in args.items())
        shown = "{" + shown + "}"
    else:
        items = [safe_repr(a) for a in args] if isinstance(args, tuple) else [safe_repr(args)]
        shown = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    add_note(notes, f"message: %-format failed ({describe(error)}); sent msg and args' reprs")
    return f"{msg} args={shown}"


def formatted(record: logging.LogRecord, formatter: logging.Formatter, notes: list[str]) -> str:
    """The formatter's text for the record, without the traceback or stack it would append.

    Those travel in ``exception`` and ``stack``, once; the formatter sees a copy, so the
    caller's record (and its cached ``exc_text``) is left as it was.
    """
    target = record
    if record.exc_info or record.exc_text or record.stack_info:
        target = copy.copy(record)
        target.exc_info = target.exc_text = target.stack_info = None
    try:
        text = formatter.format(target)
    except Exception as exc:  # a user's formatter or a %-mismatch
        add_note(notes, f"message: the formatter failed ({describe(exc)}); sent the plain one")
        try:
            return record.getMessage()
        except Exception as inner:
            return unformatted(record, inner, notes)
    return text if type(text) is str else safe_str(text)


def level_name(record: logging.LogRecord) -> str:
    """A custom level's name in lower case (``TRACE`` -> ``trace``, ``Level 5`` -> ``level 5``)."""
    name = safe_str(record.levelname).lower()
    return name or f"level {record.levelno}"


def process_name() -> str:
    """What logging itself would have recorded had ``logMultiprocessing`` been on."""
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None:
        try:
            return str(multiprocessing.current_process().name)
        except Exception:
            pass
    return "MainProcess"


def merge_tags(defaults: tuple[str, ...], given: Any, notes: list[str]) -> list[str]:
    """Handler tags then the record's, de-duplicated in first-seen order, all strings."""
    items = list(given) if isinstance(given, (list, tuple, set, frozenset)) else [given]
    tags = list(defaults)
    for tag in items:
        if type(tag) is not str:
            add_note(notes, "tags: non-string tags sent as strings")
            tag = safe_str(tag)
        tags.append(tag)
    return list(dict.fromkeys(tags))


def set_service(entry: dict[str, Any], service: Any, notes: list[str]) -> None:
    """``extra={"service": ...}`` overrides the batch's service; an empty one cannot."""
    if service is None:
        return
    name = service if type(service) is str else safe_str(service)
    if name:
        entry["service"] = name
    else:
        add_note(notes, "service: empty; the batch's service applies")


def otel_ids(otel: Any) -> tuple[str | None, str | None]:
    """The active span's ids as lowercase hex, or (None, None) when no valid span is active."""
    try:
        context = otel.get_current_span().get_span_context()
        if context.is_valid:
            return format(context.trace_id, "032x"), format(context.span_id, "016x")
    except Exception:  # a half-initialised or odd OTel must not matter
        pass
    return None, None


def apply_before_send(hook: BeforeSend, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The user's last word. A failure or a malformed result keeps our entry, with a note."""
    try:
        result: Any = hook(dict(entry))
    except Exception as exc:  # user code
        return _with_note(entry, f"before_send raised {describe(exc)}; entry sent unchanged")
    if result is None:
        return None
    if not isinstance(result, dict):
        return _with_note(entry, f"before_send returned {type(result).__name__}; ignored")
    broken = [k for k, kind in _REQUIRED.items() if type(result.get(k)) is not kind]
    broken += [k for k, fits in _OPTIONAL.items() if k in result and not fits(result[k])]
    if broken:
        for key in broken:  # ours, which fits the protocol, or nothing
            if key in entry:
                result[key] = entry[key]
            else:
                del result[key]
        return _with_note(result, f"before_send broke {', '.join(broken)}; restored")
    return result


def _location(value: Any) -> bool:
    return (type(value) is dict and type(value.get("file")) is str
            and type(value.get("line")) is int and type(value.get("function")) is str)


def _exception(value: Any) -> bool:
    """The protocol's exception shape down the cause chain (a loop: chains can be long)."""
    while value is not None:
        if type(value) is not dict or "cause" not in value:
            return False
        if not all(type(value.get(k)) is str for k in ("type", "module", "message",
                                                        "stacktrace")):
            return False
        frames = value.get("frames")
        if type(frames) is not list or not all(_location(f) for f in frames):
            return False
        value = value["cause"]
    return True


# What the drain checks of the optional fields a ``before_send`` may have rewritten.
_OPTIONAL: dict[str, Callable[[Any], bool]] = {
    "service": lambda v: type(v) is str,
    "trace_id": lambda v: v is None or type(v) is str,
    "span_id": lambda v: v is None or type(v) is str,
    "source": _location,
    "tags": lambda v: type(v) is list and all(type(t) is str for t in v),
    "meta": lambda v: type(v) is dict,
    "truncated": lambda v: type(v) is bool,
    "exception": lambda v: v is not None and _exception(v),
}


def _with_note(entry: dict[str, Any], note: str) -> dict[str, Any]:
    notes = entry.get("notes")
    entry["notes"] = notes = list(notes) if isinstance(notes, list) else []
    add_note(notes, note)
    return entry
