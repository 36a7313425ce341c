"""Cutting an entry down to ``max_entry_bytes`` instead of dropping it.

The order is the issue's: the message first (its head is kept: that is where people write
the point), then meta values, then the stack texts and frame lists, cut in the middle so
that both the entry point and the raising frame survive. Within a step the largest values
are cut first, all down to one common ceiling, so small values stay whole and no big one
vanishes entirely. Then, when many small meta values are still too many, the last keys
are dropped (the first ones arrive). Whatever still does not fit (a flood of tags, a tiny
limit) leaves only the required fields, the exception's headline and the notes.

Sizes are measured with the same ``dumps`` that encodes the entry, value by value: a
value's JSON is the same bytes on its own as inside the entry, so each cut can be sized
exactly instead of guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from .._bounds import MIN_ENTRY_BYTES

__all__ = ["MIN_ENTRY_BYTES", "fit", "halve"]

Dumps = Callable[[Any], bytes]


_REQUIRED = (
    "timestamp", "level", "message", "logger", "host", "pid", "process_name", "thread_name",
)  # fmt: skip
_HEADLINE = ("type", "module", "message")
_MARKER_BYTES = 32  # " ...[truncated N bytes]" and quotes: shorter values cannot shrink
_CAPS = (200, 48, 8)  # characters kept of each short string, round by round, in the last resort


def fit(entry: dict[str, Any], limit: int, dumps: Dumps) -> bytes:
    """``entry`` encoded within ``limit`` bytes, marked ``truncated``; edits ``entry``."""
    entry["truncated"] = True
    data = dumps(entry)
    for step in (_message_slots, _meta_slots, _trace_slots):
        for _ in range(2):  # a second round mops up bytes added by markers and counters
            if len(data) <= limit:
                return data
            if not _shrink(step(entry), len(data) - limit, dumps):
                break  # nothing here could be cut: the next step
            data = dumps(entry)
    for _ in range(2):
        if len(data) <= limit:
            return data
        _drop_meta_keys(entry, len(data) - limit, dumps)
        data = dumps(entry)
    if len(data) <= limit:
        return data
    return _last_resort(entry, limit, dumps)


def halve(entry: bytes) -> bytes | None:
    """An encoded entry cut to half its size, for a drain that answered 413 to it alone.

    Our own entries never exceed the protocol's limit, so this only meets a drain with a
    smaller one; halving finds it within a few tries. None below ``MIN_ENTRY_BYTES``, or
    for bytes that are not an entry.
    """
    target = len(entry) // 2
    try:
        decoded = orjson.loads(entry)
    except orjson.JSONDecodeError:
        return None
    if target < MIN_ENTRY_BYTES or not isinstance(decoded, dict):
        return None
    return fit(decoded, target, orjson.dumps)


# A slot is (container, key, how): how "head" keeps a text's start, "ends" keeps both
# ends of a text, "frames" keeps both ends of a list, "value" turns any value into text.
Slot = tuple[Any, Any, str]


def _message_slots(entry: dict[str, Any]) -> Iterator[Slot]:
    if isinstance(entry.get("message"), str):
        yield entry, "message", "head"


def _meta_slots(entry: dict[str, Any]) -> Iterator[Slot]:
    meta = entry.get("meta")
    if isinstance(meta, dict):
        for key, value in meta.items():
            yield meta, key, "head" if isinstance(value, str) else "value"


def _trace_slots(entry: dict[str, Any]) -> Iterator[Slot]:
    if isinstance(entry.get("stack"), str):
        yield entry, "stack", "ends"
    pending = [entry.get("exception")]
    while pending:
        node = pending.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("stacktrace"), str):
            yield node, "stacktrace", "ends"
        if isinstance(node.get("frames"), list):
            yield node, "frames", "frames"
        pending.append(node.get("cause"))
        pending.extend(node.get("exceptions") or ())


def _shrink(slots: Iterator[Slot], excess: int, dumps: Dumps) -> bool:
    """Cut the largest slots down to one common ceiling so that ``excess`` bytes go.

    False when no slot was cut (all were too small to shorten).

    Water-filling: slots below the ceiling stay whole, the larger ones are all cut to it,
    so the biggest values lose most and each keeps its head (or both ends).
    """
    sized = sorted((len(dumps(c[k])), n, c, k, how) for n, (c, k, how) in enumerate(slots))
    budget = sum(item[0] for item in sized) - excess
    ceiling = 0
    for position, item in enumerate(sized):
        share = budget // (len(sized) - position)
        if item[0] > share:
            ceiling = max(share, 0)
            break
        budget -= item[0]
    else:
        return False
    cut = False
    for size, _, container, key, how in sized:
        if size <= ceiling or size <= _MARKER_BYTES:  # a cut's marker would be as long
            continue
        original = container[key]
        if _cut_slot(container, key, how, ceiling, dumps) >= size:
            container[key] = original  # a marker longer than a small value: keep the value
        else:
            cut = True
    return cut


def _drop_meta_keys(entry: dict[str, Any], excess: int, dumps: Dumps) -> None:
    """Many small meta values: the last keys go, so that the first ones still arrive."""
    meta = entry.get("meta")
    if not isinstance(meta, dict) or not meta:
        return
    total = len(meta)
    note = f"meta: the last {{}} of {total} keys dropped to fit max_entry_bytes"
    excess += len(note) + 8  # the note's own bytes, counted here rather than in a third round
    dropped = 0
    while meta and excess > 0:
        key, value = meta.popitem()
        excess -= len(dumps(key)) + len(dumps(value)) + 2
        dropped += 1
    notes = entry.get("notes")
    entry["notes"] = notes = list(notes) if isinstance(notes, list) else []
    notes.append(note.format(dropped))


def _cut_slot(container: Any, key: Any, how: str, target: int, dumps: Dumps) -> int:
    """Cut ``container[key]`` to at most ``target`` JSON bytes where possible; its new size."""
    value = container[key]
    if how == "frames":
        return _cut_frames(container, value, target, dumps)
    text = value if isinstance(value, str) else dumps(value).decode("utf-8")
    budget = len(text.encode("utf-8"))
    while True:  # JSON escapes make bytes and JSON size differ: scale, measure, repeat
        candidate = _cut_text(text, budget, keep_ends=how == "ends")
        size = len(dumps(candidate))
        if size <= target or budget == 0:
            container[key] = candidate
            return size
        budget = max(min(budget - 1, budget * target // size - 8), 0)


def _cut_text(text: str, budget: int, *, keep_ends: bool) -> str:
    """``text`` reduced to about ``budget`` UTF-8 bytes, marker included."""
    raw = text.encode("utf-8")
    if len(raw) <= budget:
        return text
    marker = f" ...[truncated {len(raw) - budget} bytes]... "
    keep = max(budget - len(marker), 0)
    if not keep_ends:
        return raw[:keep].decode("utf-8", "ignore") + marker.rstrip()
    head, tail = raw[: keep - keep // 2], raw[len(raw) - keep // 2 :]
    return head.decode("utf-8", "ignore") + marker + tail.decode("utf-8", "ignore")


def _cut_frames(node: dict[str, Any], frames: list[Any], target: int, dumps: Dumps) -> int:
    """Drop frames from the middle; ``frames_omitted`` counts them for the reader."""
    size = len(dumps(frames))
    while size > target and frames:
        per_frame = size // len(frames) + 1
        drop = min(len(frames), (size - target) // per_frame + 1)
        keep = len(frames) - drop
        frames = frames[: keep - keep // 2] + frames[len(frames) - keep // 2 :]
        node["frames_omitted"] = node.get("frames_omitted", 0) + drop
        size = len(dumps(frames))
    node["frames"] = frames
    return size


def _last_resort(entry: dict[str, Any], limit: int, dumps: Dumps) -> bytes:
    """Only the required fields, the exception's headline and the notes; then cut again.

    Each round caps every short string harder, so even hostile logger or thread names
    fit the smallest allowed limit.
    """
    data = b""
    for cap in _CAPS:
        slim: dict[str, Any] = {key: _short(entry.get(key), cap) for key in _REQUIRED}
        exception = entry.get("exception")
        if isinstance(exception, dict):
            slim["exception"] = {k: _short(exception.get(k), cap) for k in _HEADLINE}
            slim["exception"].update(stacktrace=exception.get("stacktrace"), frames=[], cause=None)
        slim["truncated"] = True
        notes = entry.get("notes")
        kept = [_short(n, cap) for n in notes[:4]] if isinstance(notes, list) else []
        slim["notes"] = [*kept, "meta, tags and details dropped to fit max_entry_bytes"]
        data = dumps(slim)
        for step in (_message_slots, _trace_slots, _message_slots, _trace_slots):
            if len(data) <= limit:
                return data
            _shrink(step(slim), len(data) - limit, dumps)
            data = dumps(slim)
    return data


def _short(value: Any, cap: int) -> Any:
    return value[:cap] if isinstance(value, str) else value
