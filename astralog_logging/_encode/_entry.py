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

``_encode`` runs named steps: message, timestamp, fields (skipped for a record without
extras when no defaults or context apply), exception and stack, finish. It builds one
dict for one orjson call; each text gets one credential pre-test (``needs_scrub``). A
record attribute of the wrong type (``makeLogRecord``, a record factory) fails one type
guard and is repaired off the fast path; only when orjson refuses the entry (unknown
types, non-string keys, lone surrogates, huge ints) does a strict pass rebuild it.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from .._context import _EMPTY as _NO_CONTEXT
from .._context import _fields
from ._fallback import FRESH_STACK, OPTIONS, dumps, emergency, fit, on_fresh_stack
from ._record import (
    HOST,
    INIT_COUNT,
    LEVELS,
    RESERVED_ATTRS,
    BeforeSend,
    apply_before_send,
    fix_fields,
    formatted,
    level_name,
    merge_explicit,
    merge_tags,
    otel_ids,
    set_service,
    tail_keys,
    unformatted,
)
from ._redact import DEFAULT_REDACT_KEYS, needs_scrub, scrub_text
from ._sanitize import CUT_NOTE, Scrubber
from ._values import add_note, describe, faithful, safe_str

if TYPE_CHECKING:
    from .._config import Config

__all__ = ["RESERVED_ATTRS", "EntryEncoder"]

_DIGITS = tuple(f"{n:03d}" for n in range(1000))  # "000".."999": microseconds in two halves
_dumps = orjson.dumps
_modules = sys.modules


class EntryEncoder:
    """Turns records into entries for one handler; safe to share between threads."""

    __slots__ = (
        "_before_send", "_defaults", "_limit", "_max_str", "_meta", "_redact", "_scrubber",
        "_second", "_tags",
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
        """Takes the settings as given: a handler's are validated once, by ``_config.build``
        (see :meth:`for_config`); ``max_entry_bytes`` within ``_bounds``' entry limits."""
        self._tags = tuple(dict.fromkeys(safe_str(t) for t in tags))
        self._meta = dict(meta or {})
        self._defaults = bool(self._tags or self._meta)  # the fields step runs for every record
        self._scrubber = Scrubber(redact_keys, max_str=2 * max_entry_bytes)
        # The scrubber's two settings, copied: _message inlines Scrubber.text's common case
        # (short text, no credential hint), one method call less on every record.
        self._redact = redact_keys is not None
        self._max_str = 2 * max_entry_bytes  # longer texts are cut before any regex sees them
        self._before_send = before_send
        self._limit = max_entry_bytes
        self._second: tuple[float, float, str] = (0.0, 0.0, "")

    @classmethod
    def for_config(cls, config: Config) -> EntryEncoder:
        """A handler's encoder, from its validated configuration."""
        entry = config.entry
        assert entry is not None  # only the listener's copy has none
        return cls(tags=entry.tags, meta=entry.meta, redact_keys=entry.redact_keys,
                   before_send=entry.before_send, max_entry_bytes=config.max_entry_bytes)

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
        except RecursionError as exc:  # logged from the bottom of a runaway recursion
            if FRESH_STACK.get():  # the retry recursed too (a __repr__ that logs...): stop
                return emergency(record, exc, self._limit, self._scrubber)
            try:
                data: bytes | None = on_fresh_stack(self._encode, record, formatter)
                return data
            except Exception as exc:
                return emergency(record, exc, self._limit, self._scrubber)
        except Exception as exc:  # the caller's log call must not fail
            return emergency(record, exc, self._limit, self._scrubber)

    def _encode(self, record: logging.LogRecord, formatter: logging.Formatter | None
                ) -> bytes | None:  # fmt: skip
        notes: list[str] = []
        name, pid, pname = record.name, record.process, record.processName
        thread, path = record.threadName, record.pathname
        line, func = record.lineno, record.funcName
        entry: dict[str, Any] = {
            "timestamp": self._timestamp(record.created),
            "level": LEVELS.get(record.levelname) or level_name(record),
            "message": self._message(record, formatter, notes),
            "logger": name,
            "host": HOST,
            "pid": pid,
            "process_name": pname,
            "thread_name": thread,
            "source": {"file": path, "line": line, "function": func},
        }
        # One guard for what LogRecord.__init__ always sets right; makeLogRecord, a custom
        # record factory or a hand-set attribute can break it, and the drain would refuse.
        if not (type(name) is str and type(pid) is int and pid and type(pname) is str and pname
                and type(thread) is str and thread and type(path) is str and path
                and type(line) is int and type(func) is str and func):  # fmt: skip
            fix_fields(entry, notes)
        attrs = record.__dict__
        # A record built by LogRecord.__init__ alone has exactly INIT_COUNT attributes; only
        # one with more (extras, or a formatter's message/asctime) needs looking at.
        tail = tail_keys(attrs) if len(attrs) != INIT_COUNT else ()
        context = _fields.get()
        if (tail or self._defaults or context is not _NO_CONTEXT
                or "opentelemetry.trace" in _modules):  # fmt: skip
            self._add_fields(entry, attrs, tail, context, notes)
        if record.exc_info or record.exc_text or record.stack_info:
            self._add_exception(entry, record, notes)
        return self._finish(entry, notes)

    def _message(self, record: logging.LogRecord, formatter: logging.Formatter | None,
                 notes: list[str]) -> str:  # fmt: skip
        """``getMessage()`` (or the formatter's text), scrubbed, an absurdly long one cut."""
        if formatter is None:
            try:
                message = record.getMessage()
            except Exception as exc:  # %-mismatch, a raising __str__
                message = unformatted(record, exc, notes)
            if type(message) is not str:  # a custom record class
                message = safe_str(message)
        else:
            message = formatted(record, formatter, notes)
        if len(message) > self._max_str:
            return self._scrubber.text(message)
        return scrub_text(message) if self._redact and needs_scrub(message) else message

    def _timestamp(self, created: float) -> str:
        """RFC 3339 UTC with microseconds: the second's text cached, the fraction looked up."""
        start, end, text = self._second  # one tuple: threads never see a half-updated cache
        if not start <= created < end:
            start, end, text = self._second = _second_of(created)
        micros = int((created - start) * 1e6)  # an exact difference and a small int: cheap
        if micros > 999_999:  # only a time a hair before 1970 rounds up to a whole second
            micros = 999_999
        return f"{text}.{_DIGITS[micros // 1000]}{_DIGITS[micros % 1000]}Z"

    def _add_fields(self, entry: dict[str, Any], attrs: dict[str, Any], tail: Sequence[str],
                    context: Mapping[str, Any], notes: list[str]) -> None:  # fmt: skip
        """meta, trace_id/span_id, tags and service, from defaults, context() and the
        record's ``tail`` (the attribute names added after LogRecord.__init__: extras)."""
        trace_id = span_id = None
        if tail or self._meta or context is not _NO_CONTEXT:
            meta = self._meta.copy() if context is _NO_CONTEXT else {**self._meta, **context}
            for key in tail:
                if key not in RESERVED_ATTRS:
                    meta[key] = attrs[key]
            if tail and "meta" in attrs:
                merge_explicit(meta, attrs["meta"], notes, self._scrubber.max_keys)
            if "trace_id" in meta or "span_id" in meta:
                trace_id, span_id = meta.pop("trace_id", None), meta.pop("span_id", None)
            if meta:
                self._scrubber.clean_meta(meta, notes)
                entry["meta"] = meta
        if trace_id is None and span_id is None:
            otel = _modules.get("opentelemetry.trace")
            if otel is not None:
                trace_id, span_id = otel_ids(otel)
        if trace_id is not None:
            entry["trace_id"] = trace_id if type(trace_id) is str else safe_str(trace_id)
        if span_id is not None:
            entry["span_id"] = span_id if type(span_id) is str else safe_str(span_id)
        if tail and attrs.get("tags") is not None:
            tags = merge_tags(self._tags, attrs["tags"], notes)
            if tags:
                entry["tags"] = tags
        elif self._tags:
            entry["tags"] = list(self._tags)
        if tail and "service" in attrs:
            set_service(entry, attrs["service"], notes)

    def _add_exception(self, entry: dict[str, Any], record: logging.LogRecord,
                       notes: list[str]) -> None:  # fmt: skip
        """``exception`` from exc_info (or parsed back from exc_text), ``stack`` from stack_info."""
        if record.exc_info or record.exc_text:
            exception = self._exception(record, notes)
            if exception is not None:
                entry["exception"] = exception
        if record.stack_info:
            entry["stack"] = self._clean_trace(safe_str(record.stack_info))

    def _exception(self, record: logging.LogRecord, notes: list[str]) -> dict[str, Any] | None:
        from ._exc import exception_from_info, exception_from_text  # loaded on first use

        clean = self._clean_trace
        try:
            if record.exc_info:
                return exception_from_info(record.exc_info, clean)
            return exception_from_text(safe_str(record.exc_text), clean)
        except RecursionError:
            raise  # encode retries on a fresh stack
        except Exception as exc:  # a hostile exception object
            add_note(notes, f"exception: could not be formatted ({describe(exc)})")
            return None

    def _clean_trace(self, text: str) -> str:
        return self._scrubber.text(text, keep_ends=True)

    def _finish(self, entry: dict[str, Any], notes: list[str]) -> bytes | None:
        """Notes, ``before_send``, one dumps (a strict pass if orjson refuses), the size limit."""
        if notes:
            entry["notes"] = notes
            if any(CUT_NOTE in note for note in notes):
                entry["truncated"] = True
        if self._before_send is not None:
            final = apply_before_send(self._before_send, entry)
            if final is None:
                return None
            entry = final
        try:
            data = _dumps(entry, default=faithful, option=OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError: the strict pass
            entry = self._strict(entry)
            data = dumps(entry)
        return data if len(data) <= self._limit else fit(entry, self._limit)

    def _strict(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The slow path: rebuild from JSON types, noting each fix-up in ``notes``."""
        fixes: list[str] = []
        clean = self._scrubber.strict_entry(entry, fixes)
        notes = clean["notes"] if isinstance(clean.get("notes"), list) else []
        for fix in fixes:
            add_note(notes, fix)
        if notes:
            clean["notes"] = notes
        return clean


def _second_of(created: float) -> tuple[float, float, str]:
    """The UTC second holding ``created``: its bounds and its text, cached by the encoder.

    Formatting the second costs a strftime and the microseconds a big-int division plus
    a ``:06d`` format, together a sixth of an encode; within a cached second the fraction
    is an exact float subtraction and two lookups in ``_DIGITS``.
    """
    second = math.floor(created)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return float(second), float(second + 1), text
