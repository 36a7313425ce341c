"""LogRecord -> one protocol entry as compact JSON bytes (the hot path of every ``emit``).

Fields follow shared/protocol.md. Choices the protocol leaves open:

- ``message`` is ``record.getMessage()``; with a Formatter it is the formatter's text,
  rendered from a copy of the record without ``exc_info``/``exc_text``/``stack_info`` so
  the traceback is in ``exception`` (and the stack in ``stack``) only, never twice.
- ``meta`` = handler defaults < ``context()`` < plain ``extra`` keys < ``extra={"meta":
  {...}}``. ``meta`` is the collision-free channel: ``extra={"message": ...}`` makes the
  stdlib raise before any handler runs. ``tags`` and ``service`` in ``extra`` are fields,
  not meta.
- ``trace_id``/``span_id`` found in meta are moved out of it (not copied); otherwise they
  come from the active OpenTelemetry span, looked up only when the app has imported
  ``opentelemetry.trace`` (so an installed-but-unused OTel costs one dict lookup).
- ``stack`` (top-level string) holds ``record.stack_info``.
- ``notes`` (list of strings) says what was fixed up (a repr sent instead of a value, a
  failed ``%``-format, a failing ``before_send``...); absent when nothing was.
- ``exception`` comes from ``exc_info`` (formatted here, never from a cached ``exc_text``,
  which is only text); a record carrying only ``exc_text`` (relayed from elsewhere) gets
  an ``exception`` parsed back from it.

The fast path builds a dict and hands it to orjson once. Only when orjson refuses the
entry (unknown types, non-string keys, lone surrogates, huge ints) does a strict pass
rebuild it from JSON types and note each fix-up, so ordinary records never pay for it.
"""

from __future__ import annotations

import _thread
import contextvars
import copy
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

import orjson

from ._context import _EMPTY as _NO_CONTEXT
from ._context import _fields
from ._exc import exception_from_info, exception_from_text
from ._redact import (
    DEFAULT_REDACT_KEYS,
    Scrubber,
    add_note,
    faithful,
    safe_repr,
    safe_str,
)
from ._truncate import MIN_ENTRY_BYTES, fit

__all__ = ["RESERVED_ATTRS", "EntryEncoder"]

BeforeSend = Callable[[dict[str, Any]], Optional[dict[str, Any]]]

# Every attribute a plain LogRecord has on this Python, plus what formatters add and what
# this package reads as fields. Anything else on a record is a user's extra -> meta.
_INIT_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
_N_INIT = len(_INIT_ATTRS)
RESERVED_ATTRS: frozenset[str] = _INIT_ATTRS | {
    "message", "asctime", "taskName", "meta", "tags", "service",
}  # fmt: skip

_LEVELS = {
    "DEBUG": "debug", "INFO": "info", "WARNING": "warn", "WARN": "warn",
    "ERROR": "error", "CRITICAL": "critical", "FATAL": "critical",
}  # fmt: skip
_REQUIRED = {
    "timestamp": str, "level": str, "message": str, "logger": str, "host": str,
    "pid": int, "process_name": str, "thread_name": str,
}  # fmt: skip
_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS  # dataclasses may hold secrets: strict pass
_HOST = safe_str(socket.gethostname()).encode("utf-8", "backslashreplace").decode() or "unknown"
_MAX_ENTRY_BYTES = 256 * 1024  # the drain's own per-entry limit (protocol.md)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=faithful, option=_OPTIONS)


class EntryEncoder:
    """Turns records into entries for one handler; safe to share between threads."""

    __slots__ = (
        "_before_send", "_limit", "_max_str", "_meta", "_redact", "_scrubber", "_second", "_tags",
    )  # fmt: skip

    def __init__(
        self,
        *,
        tags: Sequence[str] = (),
        meta: Mapping[str, Any] | None = None,
        redact_keys: frozenset[str] | None = DEFAULT_REDACT_KEYS,
        before_send: BeforeSend | None = None,
        max_entry_bytes: int = 65536,
    ) -> None:
        """Raises ValueError for a ``max_entry_bytes`` no entry could honour."""
        if not MIN_ENTRY_BYTES <= max_entry_bytes <= _MAX_ENTRY_BYTES:
            raise ValueError(
                f"max_entry_bytes={max_entry_bytes!r}: must be between {MIN_ENTRY_BYTES} and "
                f"{_MAX_ENTRY_BYTES} (the drain rejects larger entries)"
            )
        self._tags = tuple(dict.fromkeys(safe_str(t) for t in tags))
        self._meta = dict(meta or {})
        self._redact = redact_keys is not None
        self._scrubber = Scrubber(redact_keys, max_str=2 * max_entry_bytes)
        self._before_send = before_send
        self._limit = max_entry_bytes
        self._max_str = 2 * max_entry_bytes  # longer texts are cut before any regex sees them
        self._second: tuple[int, str] = (-1, "")

    def encode(self, record: logging.LogRecord, formatter: logging.Formatter | None = None
               ) -> bytes | None:  # fmt: skip
        """One entry as compact JSON: no raw newline byte, at most ``max_entry_bytes``.

        The message is ``record.getMessage()``, or ``formatter.format(...)`` of a copy of
        the record without ``exc_info``/``exc_text``/``stack_info`` when a formatter is
        given: Formatter.format would append the traceback to the text, and it belongs in
        ``exception`` (and the stack in ``stack``), once.

        None only when ``before_send`` returned None. Never raises: a record that breaks
        every rule still becomes an entry, with ``notes`` saying what was wrong.
        """
        try:
            return self._encode(record, formatter)
        except RecursionError:  # logged from the bottom of a runaway recursion: no stack left
            try:
                data: bytes | None = _on_fresh_stack(self._encode, record, formatter)
                return data
            except Exception as exc:
                return _emergency(record, exc, self._limit, self._scrubber)
        except Exception as exc:  # the caller's log call must not fail
            return _emergency(record, exc, self._limit, self._scrubber)

    def _encode(self, record: logging.LogRecord, formatter: logging.Formatter | None
                ) -> bytes | None:  # fmt: skip
        notes: list[str] = []
        if formatter is None:
            try:
                message = record.getMessage()
            except Exception as exc:  # %-mismatch, a raising __str__
                message = _unformatted(record, exc, notes)
        else:
            message = _formatted(record, formatter, notes)
        if len(message) > self._max_str or (self._redact and (
            "://" in message or "=" in message or "earer" in message or "EARER" in message
        )):  # fmt: skip
            message = self._scrubber.text(message)
        micros = int(record.created * 1e6)
        second = micros // 1_000_000
        cached = self._second  # one tuple: threads never see a half-updated cache
        if cached[0] != second:
            cached = self._second = (second, _second_text(second))
        entry: dict[str, Any] = {
            "timestamp": f"{cached[1]}.{micros - second * 1_000_000:06d}Z",
            "level": _LEVELS.get(record.levelname) or _level(record),
            "message": message,
            "logger": record.name,
            "host": _HOST,
            "pid": record.process or os.getpid(),
            "process_name": record.processName or _process_name(),
            "thread_name": record.threadName or threading.current_thread().name,
            "source": {"file": record.pathname or "(unknown file)",
                       "line": record.lineno if type(record.lineno) is int else 0,
                       "function": record.funcName or "(unknown function)"},
        }  # fmt: skip
        attrs = record.__dict__
        # A record built by LogRecord.__init__ alone has exactly _N_INIT attributes; only
        # one with more (extras, or a formatter's message/asctime) needs looking at.
        tail = _tail_keys(attrs) if len(attrs) != _N_INIT else ()
        context = _fields.get()
        trace_id = span_id = None
        if tail or self._meta or context is not _NO_CONTEXT:
            meta = self._meta.copy() if context is _NO_CONTEXT else {**self._meta, **context}
            for key in tail:
                if key not in RESERVED_ATTRS:
                    meta[key] = attrs[key]
            if tail and "meta" in attrs:
                _merge_explicit(meta, attrs["meta"], notes)
            if "trace_id" in meta or "span_id" in meta:
                trace_id, span_id = meta.pop("trace_id", None), meta.pop("span_id", None)
            if meta:
                self._scrubber.clean_meta(meta, notes)
                entry["meta"] = meta
        if trace_id is None and span_id is None:
            otel = sys.modules.get("opentelemetry.trace")
            if otel is not None:
                trace_id, span_id = _otel_ids(otel)
        if trace_id is not None:
            entry["trace_id"] = trace_id if type(trace_id) is str else safe_str(trace_id)
        if span_id is not None:
            entry["span_id"] = span_id if type(span_id) is str else safe_str(span_id)
        if tail and attrs.get("tags") is not None:
            tags = _merge_tags(self._tags, attrs["tags"], notes)
            if tags:
                entry["tags"] = tags
        elif self._tags:
            entry["tags"] = list(self._tags)
        if tail and "service" in attrs:
            _set_service(entry, attrs["service"], notes)
        if record.exc_info or record.exc_text:
            self._add_exception(entry, record, notes)
        if record.stack_info:
            entry["stack"] = self._scrubber.text(safe_str(record.stack_info), keep_ends=True)
        if notes:
            entry["notes"] = notes
        if self._before_send is not None:
            final = _apply_before_send(self._before_send, entry)
            if final is None:
                return None
            entry = final
        try:
            data = orjson.dumps(entry, default=faithful, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError: the strict pass
            entry = self._strict(entry)
            data = _dumps(entry)
        return data if len(data) <= self._limit else fit(entry, self._limit, _dumps)

    def _add_exception(self, entry: dict[str, Any], record: logging.LogRecord,
                       notes: list[str]) -> None:  # fmt: skip
        clean = self._clean_trace
        try:
            if record.exc_info:
                exception = exception_from_info(record.exc_info, clean)
            else:
                exception = exception_from_text(safe_str(record.exc_text), clean)
        except RecursionError:
            raise  # encode retries on a fresh stack
        except Exception as exc:  # a hostile exception object
            add_note(notes, f"exception: could not be formatted ({_describe(exc)})")
            return
        if exception is not None:
            entry["exception"] = exception

    def _clean_trace(self, text: str) -> str:
        return self._scrubber.text(text, keep_ends=True)

    def _strict(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The slow path: rebuild from JSON types, noting each fix-up in ``notes``."""
        fixes: list[str] = []
        clean = self._scrubber.strict_entry(entry, fixes)
        notes = clean.get("notes")
        notes = notes if isinstance(notes, list) else []
        for fix in fixes:
            add_note(notes, fix)
        if notes:
            clean["notes"] = notes
        return clean


def _on_fresh_stack(func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` on a new thread's stack, in this context, waiting for it.

    Only C-level calls happen here (no threading.Thread, whose Python frames would hit
    the very recursion limit this escapes); the new thread has its own recursion budget.
    """
    outcome: list[Any] = []
    done = _thread.allocate_lock()
    done.acquire()

    def run() -> None:
        try:
            outcome.append((True, func(*args)))
        except BaseException as exc:  # handed back to the caller below
            outcome.append((False, exc))
        finally:
            done.release()

    _thread.start_new_thread(contextvars.copy_context().run, (run,))
    done.acquire()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _second_text(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _tail_keys(attrs: dict[str, Any]) -> list[str]:
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
    if len(attrs) - len(tail) != _N_INIT:
        return [key for key in attrs if key not in _INIT_ATTRS]
    tail.reverse()
    return tail


def _merge_explicit(meta: dict[Any, Any], explicit: Any, notes: list[str]) -> None:
    """``extra={"meta": {...}}``: the explicit channel, so it wins over plain extra keys."""
    if isinstance(explicit, Mapping):
        meta.update(explicit)
    elif explicit is not None:
        meta["meta"] = explicit
        add_note(notes, f"meta: extra 'meta' was a {type(explicit).__name__}, not a mapping")


def _unformatted(record: logging.LogRecord, error: Exception, notes: list[str]) -> str:
    """The msg unformatted plus each arg's repr, when ``msg % args`` (or ``str(msg)``) fails."""
    msg = safe_str(record.msg)
    args = record.args
    if not args:
        add_note(notes, f"message: str() of the msg failed ({_describe(error)}); sent its repr")
        return msg
    if isinstance(args, Mapping):
        shown = ", ".join(f"{safe_repr(k)}: {safe_repr(v)}" for k, v in args.items())
        shown = "{" + shown + "}"
    else:
        items = [safe_repr(a) for a in args] if isinstance(args, tuple) else [safe_repr(args)]
        shown = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    add_note(notes, f"message: %-format failed ({_describe(error)}); sent msg and args' reprs")
    return f"{msg} args={shown}"


def _formatted(record: logging.LogRecord, formatter: logging.Formatter, notes: list[str]) -> str:
    target = record
    if record.exc_info or record.exc_text or record.stack_info:
        target = copy.copy(record)  # Formatter.format appends these: keep them out of message
        target.exc_info = target.exc_text = target.stack_info = None
    try:
        text = formatter.format(target)
    except Exception as exc:  # a user's formatter or a %-mismatch
        add_note(notes, f"message: the formatter failed ({_describe(exc)}); sent the plain one")
        try:
            return record.getMessage()
        except Exception as inner:
            return _unformatted(record, inner, notes)
    return text if type(text) is str else safe_str(text)


def _merge_tags(defaults: tuple[str, ...], given: Any, notes: list[str]) -> list[str]:
    """Handler tags then the record's, de-duplicated in first-seen order, all strings."""
    items = list(given) if isinstance(given, (list, tuple, set, frozenset)) else [given]
    tags = list(defaults)
    for tag in items:
        if type(tag) is not str:
            add_note(notes, "tags: non-string tags sent as strings")
            tag = safe_str(tag)
        tags.append(tag)
    return list(dict.fromkeys(tags))


def _set_service(entry: dict[str, Any], service: Any, notes: list[str]) -> None:
    if service is None:
        return
    name = service if type(service) is str else safe_str(service)
    if name:
        entry["service"] = name
    else:
        add_note(notes, "service: empty; the batch's service applies")


def _otel_ids(otel: Any) -> tuple[str | None, str | None]:
    """The active span's ids as lowercase hex, or (None, None) when no valid span is active."""
    try:
        context = otel.get_current_span().get_span_context()
        if context.is_valid:
            return format(context.trace_id, "032x"), format(context.span_id, "016x")
    except Exception:  # a half-initialised or odd OTel must not matter
        pass
    return None, None


def _level(record: logging.LogRecord) -> str:
    """A custom level's name in lower case (``TRACE`` -> ``trace``, ``Level 5`` -> ``level 5``)."""
    name = safe_str(record.levelname).lower()
    return name or f"level {record.levelno}"


def _process_name() -> str:
    """What logging itself would have recorded had ``logMultiprocessing`` been on."""
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None:
        try:
            return str(multiprocessing.current_process().name)
        except Exception:
            pass
    return "MainProcess"


def _apply_before_send(hook: BeforeSend, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The user's last word. A failure or a malformed result keeps our entry, with a note."""
    try:
        result: Any = hook(dict(entry))
    except Exception as exc:  # user code
        return _with_note(entry, f"before_send raised {_describe(exc)}; entry sent unchanged")
    if result is None:
        return None
    if not isinstance(result, dict):
        return _with_note(entry, f"before_send returned {type(result).__name__}; ignored")
    broken = [k for k, kind in _REQUIRED.items() if type(result.get(k)) is not kind]
    if broken:
        result.update((k, entry[k]) for k in broken)
        return _with_note(result, f"before_send broke {', '.join(broken)}; restored")
    return result


def _with_note(entry: dict[str, Any], note: str) -> dict[str, Any]:
    notes = entry.get("notes")
    entry["notes"] = notes = list(notes) if isinstance(notes, list) else []
    add_note(notes, note)
    return entry


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {safe_str(exc)}"[:200]


def _emergency(record: Any, error: Exception, limit: int, scrubber: Scrubber) -> bytes:
    """An entry for a record that broke the encoder itself; built from safe parts only."""
    note = f"astralog_logging could not encode this record ({_describe(error)})"
    try:
        created = getattr(record, "created", None)
        created = created if isinstance(created, float) else time.time()
        entry = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            + f".{int(created % 1 * 1_000_000):06d}Z",
            "level": _LEVELS.get(safe_str(getattr(record, "levelname", "")), "error"),
            "message": safe_str(getattr(record, "msg", ""))[:limit // 4],
            "logger": safe_str(getattr(record, "name", "")),
            "host": _HOST,
            "pid": os.getpid(),
            "process_name": _process_name(),
            "thread_name": threading.current_thread().name,
            "notes": [note],
        }
        safe = scrubber.strict_entry(entry, [])
        data = _dumps(safe)
        return data if len(data) <= limit else fit(safe, limit, _dumps)
    except Exception:  # even the safe parts failed: a fixed, valid entry
        return orjson.dumps({
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
            "level": "error", "message": "", "logger": "astralog_logging", "host": "unknown",
            "pid": os.getpid(), "process_name": "unknown", "thread_name": "unknown",
            "notes": ["astralog_logging could not encode a record"],
        })  # fmt: skip
