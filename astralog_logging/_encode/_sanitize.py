"""Entries made safe to send: redaction applied, and every value one JSON can hold.

Two passes share one bounded walk (``_walk``). :meth:`Scrubber.clean_meta` runs on every
record with meta: it redacts secret-named keys, scrubs credentials from strings and
fixes what orjson would get silently wrong (NaN and infinities become ``null``),
changing only what must change.
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

from itertools import islice
from typing import Any

from ._redact import REDACTED, needs_scrub, normalize_key, scrub_text
from ._values import add_note
from ._walk import CUT_NOTE, Walk, cut

__all__ = ["CUT_NOTE", "Scrubber"]

_MAX_FLAGS = 4096


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

    def clean_meta(self, meta: dict[Any, Any], notes: list[str]) -> None:
        """Clean ``meta`` (our own merged dict) in place.

        Keys are checked with one ``issuperset`` against the names already known to be
        harmless; values with a type test each. Only a value that may need work (a string
        with a credential hint or over the size budget, a non-finite float, a container)
        sends the dict through the slower per-item pass.
        """
        keys = self._keys
        max_str = self._max_str
        if len(meta) > self.max_keys:  # more than could ever fit: the last ones go now
            cut(notes, "meta", len(meta) - self.max_keys, len(meta))
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
                if size > max_str or (keys is not None and needs_scrub(value)):
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
        walk = Walk(self, notes, strict=False)
        walk.room -= 6 * len(meta)  # each key's quotes, colon, comma and a short name
        long = self.long
        for key, value in meta.items():
            if walk.room < 0:  # the budget is spent: this key and the ones after it go
                late = list(meta)
                late = late[late.index(key):]
                cut(notes, "meta", len(late), len(meta))
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
        walk = Walk(self, notes, strict=True)
        out: dict[str, Any] = {}
        for key, value in entry.items():
            walk.room = self.room  # each field its own budget: fit decides which one to cut
            name = walk.key(key, "entry")
            out[name] = walk.value(value, name, 1, name == "meta")
        return out
