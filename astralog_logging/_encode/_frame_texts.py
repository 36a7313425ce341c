"""Formatted traceback frames, remembered per code location (Python 3.11+).

Since 3.11, ``traceback`` prints carets under the failing expression, and finding them
parses the line's code segment: ~26 µs a frame here, three quarters of what formatting a
four-frame traceback costs, paid by ``logging`` on every ``logger.exception``. A frame's
text depends only on where it is (file, line span, columns, function name) and on that
span's source lines, so a raise site logged again (a failing dependency, a retry loop)
reuses the text. The source lines are part of the key: an edited file, which ``traceback``
re-reads, gives a new key, never a stale text.

Only ``StackSummary.format_frame_summary`` is replaced, on summaries this package built,
so the text stays exactly what ``traceback`` prints. Frames with captured locals are never
cached (their values change); before 3.11 there are no carets and nothing to save.
"""

from __future__ import annotations

import linecache
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["use_cache"]

_MAX_ENTRIES = 2048  # distinct raise sites; then the cache starts over
_MAX_SPAN = 20  # a statement over more lines than this is formatted every time
_texts: dict[tuple[Any, ...], str] = {}
# traceback's own frame formatter, a method since 3.11 (older ones print no carets).
_format_frame: Callable[..., str] | None = getattr(
    traceback.StackSummary, "format_frame_summary", None)


class _CachingSummary(traceback.StackSummary):
    """A StackSummary whose frames' texts come from ``_texts`` when they can."""

    def format_frame_summary(self, frame_summary: traceback.FrameSummary,
                             **kwargs: Any) -> str:  # fmt: skip
        assert _format_frame is not None  # use_cache never makes one without it
        key = _key(frame_summary, kwargs)
        if key is None:
            return _format_frame(self, frame_summary, **kwargs)
        text = _texts.get(key)
        if text is None:
            text = _format_frame(self, frame_summary, **kwargs)
            if len(_texts) >= _MAX_ENTRIES:
                _texts.clear()
            _texts[key] = text
        return text


def _key(frame: traceback.FrameSummary, kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    if frame.locals is not None or kwargs.get("colorize"):
        return None
    first = frame.lineno
    if first is None:
        return None
    last = getattr(frame, "end_lineno", None) or first
    if not 0 <= last - first <= _MAX_SPAN:
        return None
    filename = frame.filename
    lines = tuple(linecache.getlines(filename)[first - 1:last])  # as traceback read them
    return (filename, first, last, getattr(frame, "colno", None),
            getattr(frame, "end_colno", None), frame.name, lines)


def use_cache(te: traceback.TracebackException) -> None:
    """Let ``te.format()`` take its frames' texts from the cache (each link of the chain
    and every group member), when this Python prints carets."""
    if _format_frame is None:
        return
    pending = [te]
    seen: set[int] = set()
    while pending:
        one = pending.pop()
        if id(one) in seen:
            continue
        seen.add(id(one))
        if type(one.stack) is traceback.StackSummary:
            one.stack.__class__ = _CachingSummary  # same layout: a list with a __dict__
        linked = [one.__cause__, one.__context__, *(getattr(one, "exceptions", None) or ())]
        pending.extend(link for link in linked if link is not None)
