"""One bounded descent through a user's nested values, for :class:`._sanitize.Scrubber`.

The walk copies a container only when one of its items changed (a redacted key, a
scrubbed string, a non-finite float), and stops where the budget, the nesting depth, the
node count or a cycle says so, each with a note. In strict mode (after orjson refused the
entry) it also turns every value into a JSON type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from enum import Enum
from itertools import islice
from typing import TYPE_CHECKING, Any

from ._redact import REDACTED
from ._values import add_note, faithful, int_text, safe_repr, safe_str

if TYPE_CHECKING:
    from ._sanitize import Scrubber

__all__ = ["CUT_NOTE", "Walk", "cut"]

CUT_NOTE = "cut to fit max_entry_bytes"

_MAX_DEPTH = 32
_MAX_NODES = 10_000


def cut(notes: list[str], where: str, dropped: int, total: int) -> None:
    """Say that the last ``dropped`` of ``total`` items under ``where`` were cut."""
    add_note(notes, f"{where}: {dropped} of {total} items {CUT_NOTE}")


def _is_container(value: object) -> bool:
    return isinstance(value, (Mapping, set, frozenset)) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    )


def _fields(value: Any) -> Iterator[tuple[str, Any]]:
    for field in dataclasses.fields(value):
        yield field.name, getattr(value, field.name)


class Walk:
    """One descent through nested values, with the state that keeps it bounded."""

    __slots__ = ("budget", "notes", "path", "room", "scrubber", "strict")

    def __init__(self, scrubber: Scrubber, notes: list[str], *, strict: bool) -> None:
        self.scrubber = scrubber
        self.notes = notes
        self.strict = strict
        self.path: list[int] = []  # ids of the containers being walked: a repeat is a cycle
        self.budget = _MAX_NODES
        self.room = scrubber.room  # JSON bytes (a lower bound) still allowed: see the top


    def key(self, key: Any, where: str) -> Any:
        if not self.strict:
            return key  # orjson refuses it and the strict pass converts it, with a note
        if type(key) is str:
            return self.text(key, where)
        add_note(self.notes, f"{where}: non-string key {type(key).__name__} sent as a string")
        return self.text(safe_str(key), where)

    def text(self, text: str, where: str) -> str:
        if self.strict:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                text = text.encode("utf-8", "backslashreplace").decode("utf-8")
                add_note(self.notes, f"{where}: invalid unicode (lone surrogates) escaped")
        return self.scrubber.text(text)

    def value(self, value: Any, where: str, depth: int, redact: bool) -> Any:
        kind = type(value)
        if kind is str:
            text = self.text(value, where)
            size = len(text) + 3
            long = self.scrubber.long
            self.room -= size if size < long else long
            return text
        self.room -= 2
        if kind is bool or value is None:
            return value
        if kind is int:
            return value if not self.strict or -(2**63) <= value < 2**64 else int_text(value)
        if kind is float:
            if value - value == 0.0:
                return value
            add_note(self.notes, f"{where}: non-finite float sent as a string")
            return repr(value)
        if isinstance(value, (dict, list, tuple)) or (self.strict and _is_container(value)):
            return self.container(value, where, depth, redact)
        return self.convert(value, where, depth, redact) if self.strict else value

    def container(self, value: Any, where: str, depth: int, redact: bool) -> Any:
        if depth > _MAX_DEPTH:
            add_note(self.notes, f"{where}: nesting deeper than {_MAX_DEPTH} levels cut")
            return "[nested too deep]"
        if id(value) in self.path:
            add_note(self.notes, f"{where}: circular reference replaced")
            return "[circular reference]"
        self.budget -= 1
        if self.budget < 0:
            add_note(self.notes, f"{where}: more than {_MAX_NODES} nested values; rest cut")
            return "[too many values]"
        self.path.append(id(value))
        try:
            if isinstance(value, dict) or not isinstance(value, (list, tuple, set, frozenset)):
                return self.mapping(value, where, depth, redact)
            return self.sequence(value, where, depth, redact)
        except RecursionError:
            raise  # our own stack ran out, not the container's fault: encode retries
        except Exception:  # a hostile container (items() raising, ...)
            if not self.strict:
                raise
            add_note(self.notes, f"{where}: {type(value).__qualname__} sent as its repr")
            return self.text(safe_repr(value), where)
        finally:
            self.path.pop()

    def mapping(self, value: Any, where: str, depth: int, redact: bool) -> Any:
        items = value.items() if isinstance(value, Mapping) else _fields(value)
        sensitive = self.scrubber.sensitive if redact else None
        out: dict[Any, Any] | None = {} if self.strict else None
        for position, (key, item) in enumerate(items):
            if self.room < 0:
                total = len(value) if isinstance(value, Mapping) else position + 1
                cut(self.notes, where, total - position, total)
                if out is None:
                    out = dict(islice(value.items(), position))
                break
            name = self.key(key, where)
            if sensitive is not None and type(name) is str and sensitive(name):
                new: Any = REDACTED
            elif depth <= 1 and not isinstance(item, (str, int, float)):
                left = self.room  # as at meta's top: one value may spend half of what is left
                self.room = left // 2
                new = self.value(item, where, depth + 1, redact)
                self.room += left - left // 2
            else:
                new = self.value(item, where, depth + 1, redact)
            if out is None and new is not item:
                out = dict(list(value.items())[:position])
            if out is not None:
                out[name] = new
        return value if out is None else out

    def sequence(self, value: Any, where: str, depth: int, redact: bool) -> Any:
        out: list[Any] | None = [] if self.strict else None
        for position, item in enumerate(value):
            if self.room < 0:
                cut(self.notes, where, len(value) - position, len(value))
                if out is None:
                    out = list(value[:position])
                break
            new = self.value(item, where, depth + 1, redact)
            if out is None and new is not item:
                out = list(value[:position])
            if out is not None:
                out.append(new)
        return value if out is None else out

    def convert(self, value: Any, where: str, depth: int, redact: bool) -> Any:
        if isinstance(value, Enum):
            return self.value(value.value, where, depth, redact)
        if isinstance(value, str):  # subclasses: their exact-type copy, never their __str__
            return self.text(str.__str__(value), where)
        if isinstance(value, int):
            return self.value(int.__index__(value), where, depth, redact)
        if isinstance(value, float):
            return self.value(float.__float__(value), where, depth, redact)
        try:
            plain = faithful(value)
        except Exception:  # any failure means "not faithfully convertible"
            add_note(self.notes, f"{where}: {type(value).__qualname__} sent as its repr")
            return self.value(safe_repr(value), where, depth, redact)  # counted against room
        return self.value(plain, where, depth, redact)
