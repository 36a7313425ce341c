"""Fields that follow the code rather than the call: ``with context(request_id="r1"): ...``.

The fields live in a :mod:`contextvars` variable, so they are right per thread and per
asyncio task without locks: a task created inside the block sees them, code running
concurrently outside it does not. A plain ``threading.Thread`` starts with an empty
context (as every thread does before Python 3.14); run its target through
``contextvars.copy_context().run`` to carry the fields over.

Every record emitted inside the block carries the fields in ``meta``. Precedence:
record extras > context > the handler's default ``meta``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

__all__ = ["context", "current_context"]

_EMPTY: dict[str, Any] = {}

# One dict per block, never mutated after it is set: the hot path reads it with a single
# ContextVar.get() and merges it at dict speed (a MappingProxyType merges ~10x slower);
# users only ever see it through a read-only proxy, so an enclosing block's fields cannot
# be changed behind its back.
_fields: ContextVar[dict[str, Any]] = ContextVar("astralog_context", default=_EMPTY)


@contextmanager
def context(**fields: Any) -> Iterator[Mapping[str, Any]]:
    """Add ``fields`` to every record's ``meta`` inside the block; inner blocks override outer.

    Usable as a decorator too. The previous fields come back on exit even when the block
    raises, because the variable is reset with the token from entry rather than rebuilt.
    """
    merged = {**_fields.get(), **fields}
    token = _fields.set(merged)
    try:
        yield MappingProxyType(merged)
    finally:
        _fields.reset(token)


def current_context() -> Mapping[str, Any]:
    """The fields in force here, read-only (an empty mapping outside every block)."""
    return MappingProxyType(_fields.get())
