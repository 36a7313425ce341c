"""An exception as the protocol's ``exception`` object, built from one traceback walk.

``stacktrace`` is exactly the text ``logging`` would print for the record (what
``traceback`` prints, chains and ExceptionGroup members included, without the final
newline). ``frames`` (innermost last), ``cause`` and, for groups, ``exceptions`` come from
the same :class:`traceback.TracebackException`, and the text is formatted once.

Nested objects (``cause``, group members) carry their own section of the text rather than
the whole chain, so a reader of one link sees that link. Nesting stops at
``MAX_DEPTH`` links; the top-level ``stacktrace`` still shows everything ``traceback``
shows.
"""

from __future__ import annotations

import builtins
import re
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, Optional, Tuple, Type, Union

from ._frame_texts import use_cache

__all__ = ["MAX_DEPTH", "ExcInfo", "exception_from_info", "exception_from_text"]

ExcInfo = Union[
    Tuple[Type[BaseException], BaseException, Optional[TracebackType]],
    Tuple[None, None, None],
]
Clean = Callable[[str], str]

MAX_DEPTH = 8
_MAX_MEMBERS = 15  # the same width traceback prints for an ExceptionGroup
_TE_KWARGS: dict[str, Any] = {"compact": True} if sys.version_info >= (3, 10) else {}
_GROUP: type[BaseException] | None = getattr(builtins, "BaseExceptionGroup", None)
_STR_FAILED = "<exception str() failed>"  # what traceback itself prints in that case
# The lines traceback prints between the links of a chain (the same on 3.9 to 3.13).
_CAUSE: str | None = getattr(traceback, "_cause_message", None)
_CONTEXT: str | None = getattr(traceback, "_context_message", None)


def exception_from_info(exc_info: Any, clean: Clean) -> dict[str, Any] | None:
    """The ``exception`` object for ``record.exc_info``; None when it holds no exception.

    ``clean`` is applied to every message and stacktrace (cutting and credential scrubbing
    happen there, before the text is stored anywhere).
    """
    etype, value, tb = exc_info
    if value is None:
        if not isinstance(etype, type):
            return None  # exc_info=True outside an except block: nothing to report
        name = etype.__qualname__
        return _node_dict(name, etype.__module__, "", clean(name), [])
    te = traceback.TracebackException(type(value), value, tb, **_TE_KWARGS)
    use_cache(te)  # a raise site seen before: its frames' texts are not formatted again
    text = "".join(te.format())
    return _node(value, te, clean, 0, text, text)


def _node(
    value: BaseException,
    te: traceback.TracebackException,
    clean: Clean,
    depth: int,
    chained: str | None,
    shown: str | None = None,
) -> dict[str, Any]:
    """One exception; ``chained`` is its text with its chain before it, as traceback prints.

    Its own section is the part after the last separator, and what precedes that
    separator is exactly the linked exception's ``chained`` text, so every link is cut
    out of the one formatted string. Only when that split fails (no text, or an exception
    message containing a separator) is a link formatted on its own.
    """
    # Follow the link traceback follows: an explicit cause, else an unsuppressed context.
    # A link traceback did not build (a cycle it had already seen) ends the chain.
    if value.__cause__ is not None:
        link, link_te, separator = value.__cause__, te.__cause__, _CAUSE
    elif value.__context__ is not None and not value.__suppress_context__:
        link, link_te, separator = value.__context__, te.__context__, _CONTEXT
    else:
        link, link_te, separator = None, None, None
    own, before = chained, None
    if chained is not None and link_te is not None and separator:
        before, found, own = chained.rpartition(separator)
        kind = type(value)
        starts = ("Traceback", "  + Exception Group", kind.__qualname__, kind.__module__)
        if not found or not own.startswith(starts):
            own = before = None
    if own is None:
        own = "".join(te.format(chain=False))
    text = own if shown is None else shown
    frames = [{"file": f.filename, "line": f.lineno or 0, "function": f.name} for f in te.stack]
    kind = type(value)
    node = _node_dict(
        kind.__qualname__,
        kind.__module__,
        clean(_message(value)),
        clean(text[:-1] if text.endswith("\n") else text),
        frames,
    )
    if depth >= MAX_DEPTH:
        return node
    if link is not None and link_te is not None:
        node["cause"] = _node(link, link_te, clean, depth + 1, before)
    members = getattr(te, "exceptions", None)
    if _GROUP is not None and isinstance(value, _GROUP) and members:
        inner: tuple[BaseException, ...] = getattr(value, "exceptions", ())
        pairs = zip(inner[:_MAX_MEMBERS], members[:_MAX_MEMBERS])
        node["exceptions"] = [_node(m, m_te, clean, depth + 1, None) for m, m_te in pairs]
    return node


def _node_dict(
    kind: str, module: str, message: str, stacktrace: str, frames: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": kind,
        "module": module,
        "message": message,
        "stacktrace": stacktrace,
        "frames": frames,
        "cause": None,
    }


def _message(value: BaseException) -> str:
    try:
        text = str(value)
    except Exception:  # a user's __str__
        return _STR_FAILED
    return text if type(text) is str else _STR_FAILED


_FRAME_LINE = re.compile(r'^  File "(.*)", line (\d+), in (.*)$', re.MULTILINE)
_LAST_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s?(.*))?$")


def exception_from_text(text: str, clean: Clean) -> dict[str, Any]:
    """The ``exception`` object recovered from already-formatted text (``record.exc_text``).

    Records that crossed a process boundary (SocketHandler, a relayed queue) keep only the
    text; type, message and the last section's frames are parsed back out of it, best effort.
    """
    text = text.rstrip("\n")
    last = text.rsplit("\n", 1)[-1]
    match = _LAST_LINE.match(last)
    qualified, message = (match.group(1), match.group(2) or "") if match else ("", last)
    module, _, kind = qualified.rpartition(".")
    section = text.rsplit("Traceback (most recent call last):", 1)[-1]
    frames = [
        {"file": file, "line": int(line), "function": function}
        for file, line, function in _FRAME_LINE.findall(section)
    ]
    kind, module = kind or "Exception", module or "builtins"
    return _node_dict(kind, module, clean(message), clean(text), frames)
