"""Entries made safe to send: redaction applied, and every value one JSON can hold.

Two passes share one bounded walk. :meth:`Scrubber.clean_meta` runs on every record: it
redacts secret-named keys, scrubs credentials from strings and fixes what orjson would
get silently wrong (NaN and infinities become ``null``), changing only what must change.
:meth:`Scrubber.strict_entry` is the slow path, taken only when orjson refused an entry
(unknown types, non-string keys, lone surrogates, huge ints): it rebuilds the entry from
JSON types and notes each fix-up. Both bound what would make them fail or blow up:
cycles, nesting, node counts, huge strings.

Both also stop early: a running estimate of the JSON size walked so far (string
lengths, each at most an eighth of the budget, plus separators) is kept against a budget
of ``max_str`` (twice the entry limit). Once it is spent the rest of a mapping or
sequence is cut, its head kept, with a note (``CUT_NOTE`` in it marks the entry
``truncated``); one top-level meta value may spend only half of what is left, so the
keys after it still arrive. A million meta keys or a million-item list thus cost what
the limit allows, not what the caller passed; the exact fit to ``max_entry_bytes``
happens later, on what is left."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from enum import Enum
from itertools import islice
from typing import Any

from ._redact import REDACTED, needs_scrub, normalize_key, scrub_text
from ._values import add_note, faithful, int_text, safe_repr, safe_str

__all__ = ["CUT_NOTE", "Scrubber"]

CUT_NOTE = "cut to fit max_entry_bytes"

_MAX_DEPTH = 32
_MAX_NODES = 10_000
_MAX_FLAGS = 4096


def _is_container(value: object) -> bool:
    return isinstance(value, (Mapping, set, frozenset)) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    )


def _fields(value: Any) -> Iterator[tuple[str, Any]]:
    for field in dataclasses.fields(value):
        yield field.name, getattr(value, field.name)


class Scrubber:
    """Applies redaction, text scrubbing and value hygiene to meta (and, rarely, whole entries).

    :meth:`clean_meta` is the hot path: it changes only what must change, edits our own
    top-level dict in place and copies nested user objects only on write. It also fixes
    what orjson would get silently wrong (NaN and infinities become ``null``) and bounds
    what would make it fail or blow up (cycles, nesting, huge strings).
    """

    __slots__ = ("_flags", "_keys", "_max_str", "long", "max_keys", "room", "safe_keys")

    def __init__(self, keys: frozenset[str] | None, max_str: int) -> None:
        self._keys = keys
        self._max_str = max_str
        self.room = max_str  # the JSON size one walk may keep before it cuts
        # A long string is charged only this much: fit, not the walk, decides which of a
        # few long values to shorten (each is already cut to max_str).
        self.long = max_str // 8
        self.max_keys = max_str // 8  # each key costs at least 5 bytes ("":0,) of max_str/2
        # Key names repeat across records: remember each exact spelling's verdict.
        self._flags: dict[str, bool] = {}
        # The same verdicts as a set of harmless names, so a whole meta dict is checked with
        # one C-level ``issuperset`` call on the hot path.
        self.safe_keys: set[str] = set()

    def sensitive(self, key: str) -> bool:
        """Whether ``key`` names a secret under this scrubber's key set."""
        flag = self._flags.get(key)
        if flag is None:
            flag = self._keys is not None and normalize_key(key) in self._keys
            if len(self._flags) < _MAX_FLAGS:
                self._flags[key] = flag
                if not flag:
                    self.safe_keys.add(key)
        return flag

    def text(self, text: str, *, keep_ends: bool = False) -> str:
        """A text made safe: credentials scrubbed, and cut when it is absurdly long.

        The cut happens first so the regexes never scan megabytes; ``max_str`` is twice
        the entry limit, so the final truncation (which marks the entry) cuts deeper
        anyway and no credential fragment is left at the edge.
        """
        limit = self._max_str
        if len(text) > limit:
            half = limit // 2
            text = text[:half] + "\n...\n" + text[-half:] if keep_ends else text[:limit]
        if self._keys is not None and needs_scrub(text):
            text = scrub_text(text)
        return text

    @staticmethod
    def cut(notes: list[str], where: str, dropped: int, total: int) -> None:
        """Say that the last ``dropped`` of ``total`` items under ``where`` were cut."""
        add_note(notes, f"{where}: {dropped} of {total} items {CUT_NOTE}")

    def clean_meta(self, meta: dict[Any, Any], notes: list[str]) -> None:
        """Clean ``meta`` (our own merged dict) in place.

        Keys are checked with one ``issuperset`` against the names already known to be
        harmless; values with a type test each. Only a value that may need work (a string
        with a credential hint, a non-finite float, a container) sends the dict through
        the slower per-item pass.
        """
        keys = self._keys
        max_str = self._max_str
        if len(meta) > self.max_keys:  # more than could ever fit: the last ones go now
            Scrubber.cut(notes, "meta", len(meta) - self.max_keys, len(meta))
            for late in list(islice(meta, self.max_keys, None)):
                del meta[late]
        if keys is not None and not self.safe_keys.issuperset(meta):
            for key in meta:
                if type(key) is str and self.sensitive(key):
                    meta[key] = REDACTED
        size = 0
        for value in meta.values():
            kind = type(value)
            if kind is str:
                size += len(value)
                if size > max_str or (keys is not None and (
                    "://" in value or "=" in value or "earer" in value or "EARER" in value
                )):  # fmt: skip
                    break
            elif kind is int or kind is bool or value is None:
                continue
            elif kind is float:
                if value - value != 0.0:  # NaN or an infinity: JSON has no spelling for it
                    break
            elif isinstance(value, (dict, list, tuple)):
                break
        else:
            return
        self._fix_items(meta, notes)

    def _fix_items(self, meta: dict[Any, Any], notes: list[str]) -> None:
        walk = _Walk(self, notes, strict=False)
        walk.room -= 6 * len(meta)  # each key's quotes, colon, comma and a short name
        long = self.long
        for key, value in meta.items():
            if walk.room < 0:  # the budget is spent: this key and the ones after it go
                late = list(meta)
                late = late[late.index(key):]
                Scrubber.cut(notes, "meta", len(late), len(meta))
                for name in late:
                    del meta[name]
                return
            kind = type(value)
            if kind is str:
                meta[key] = text = self.text(value)
                size = len(text)
                walk.room -= size if size < long else long
            elif kind is float and value - value != 0.0:
                meta[key] = repr(value)
                add_note(notes, f"meta.{key}: non-finite float sent as a string")
            elif isinstance(value, (dict, list, tuple)):
                left = walk.room  # one container may use half of what is left, so that
                walk.room = left // 2  # the keys after a huge one still arrive
                new = walk.value(value, f"meta.{key}", 1, True)
                walk.room += left - left // 2
                if new is not value:
                    meta[key] = new

    def strict_entry(self, entry: dict[Any, Any], notes: list[str]) -> dict[str, Any]:
        """A copy of ``entry`` made only of JSON types; the slow path after orjson refused it.

        Only the subtree under ``meta`` is redacted by key: the entry's own field names are
        the protocol's, not the user's.
        """
        walk = _Walk(self, notes, strict=True)
        out: dict[str, Any] = {}
        for key, value in entry.items():
            walk.room = self.room  # each field its own budget: fit decides which one to cut
            name = walk.key(key, "entry")
            out[name] = walk.value(value, name, 1, name == "meta")
        return out


class _Walk:
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
                Scrubber.cut(self.notes, where, total - position, total)
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
                Scrubber.cut(self.notes, where, len(value) - position, len(value))
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
