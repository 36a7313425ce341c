"""Any Python value, printed or handed to orjson without letting user code break the entry.

Everything that reaches an entry may be a user's object: its ``__str__`` and ``__repr__``
may raise, an int may be too large to print, bytes may not be UTF-8. These helpers never
raise for such values; what they had to change is said in the entry's ``notes`` through
:func:`add_note`.
"""

from __future__ import annotations

import sys
from datetime import date, time
from itertools import islice
from pathlib import PurePath
from typing import Any
from uuid import UUID

__all__ = ["MAX_NOTES", "add_note", "describe", "faithful", "int_text", "safe_repr", "safe_str"]

MAX_NOTES = 16
MAX_ITEMS = 128 * 1024  # items (or bytes) of one value that could ever fit the largest entry


def safe_repr(value: object) -> str:
    """``repr(value)``, or a description of the value when its ``__repr__`` raises."""
    try:
        return repr(value)
    except Exception as exc:  # user code
        return f"<unrepresentable {type(value).__qualname__}: repr raised {type(exc).__name__}>"


def safe_str(value: object) -> str:
    """``str(value)``, falling back to :func:`safe_repr` when ``__str__`` raises."""
    try:
        text = str(value)
    except Exception:  # user code
        return safe_repr(value)
    return text if type(text) is str else safe_repr(value)


def int_text(value: int) -> str:
    """An integer outside JSON's safe range as text; huge ones cannot even be printed."""
    try:
        return str(value)
    except ValueError:  # beyond sys.int_info.str_digits_check_threshold (3.11+)
        return f"<int of {value.bit_length()} bits>"


def faithful(value: Any) -> Any:
    """orjson's ``default``: values with one obvious JSON form; TypeError for the rest.

    Anything that may hold keys (mappings, dataclasses, objects) is refused on purpose so
    that it reaches the strict pass, which redacts inside it.
    """
    decimal = sys.modules.get("decimal")  # a Decimal exists only once decimal is imported
    if isinstance(value, (PurePath, UUID)) or (
        decimal is not None and isinstance(value, decimal.Decimal)
    ):  # fmt: skip
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):  # more items could not fit any entry
        return list(islice(value, MAX_ITEMS)) if len(value) > MAX_ITEMS else list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[:MAX_ITEMS])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return repr(raw)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        plain = value.tolist()
        return repr(plain) if type(plain) is float and plain - plain != 0.0 else plain
    raise TypeError(f"{type(value).__qualname__} is not JSON serializable")


def add_note(notes: list[str], text: str) -> None:
    """Record one fix-up for the entry's ``notes``; bounded so notes cannot flood an entry."""
    if len(notes) < MAX_NOTES and text not in notes:
        notes.append(text if len(text) <= 300 else text[:297] + "...")


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception for a note, short, whatever its ``__str__`` does."""
    return f"{type(exc).__name__}: {safe_str(exc)}"[:200]
