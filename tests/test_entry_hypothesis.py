"""Property: whatever meta, message and args a caller passes, encode yields one valid entry."""

from __future__ import annotations

import datetime
import decimal
import logging
import math
import sys
import uuid
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astralog_logging._encode._entry import EntryEncoder
from astralog_logging.drain._validate import validate_entry

# Text with lone surrogates and control characters: what file names and bad decodes produce.
raw_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


class Opaque:
    """An object JSON cannot hold whose repr and str both raise."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), raw_text, st.binary(max_size=20),
    st.decimals(allow_nan=True), st.uuids(), st.datetimes(), st.dates(),
    st.builds(Opaque), st.builds(object), st.just(math.inf),
    st.sampled_from([decimal.Decimal("1.10"), uuid.UUID(int=1), datetime.time(1, 2)]),
)  # fmt: skip
keys = st.one_of(raw_text, st.integers(), st.none(), st.tuples(st.integers()), st.floats())
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=4), st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=20,
)  # fmt: skip
messages = st.one_of(raw_text, raw_text.map(lambda t: t + " %s %d %(k)s %"), st.builds(Opaque),
                     st.integers(), values)  # fmt: skip
arguments = st.one_of(st.tuples(), st.lists(values, max_size=3).map(tuple),
                      st.tuples(st.dictionaries(raw_text, values, max_size=3)))  # fmt: skip
ENCODER = EntryEncoder(tags=["base"], meta={"env": "test"}, max_entry_bytes=2048)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=messages, args=arguments, meta=st.dictionaries(keys, values, max_size=5),
       extra=st.dictionaries(raw_text.filter(str.isidentifier), values, max_size=3),
       tags=st.one_of(st.none(), raw_text, st.lists(st.one_of(raw_text, st.integers()))),
       error=st.one_of(st.none(), values))
def test_any_record_becomes_one_valid_entry(msg: Any, args: Any, meta: dict[Any, Any],
                                            extra: dict[str, Any], tags: Any,
                                            error: Any) -> None:  # fmt: skip
    """encode never raises and always returns one protocol-valid entry within the limit."""
    exc_info = None
    if error is not None:
        try:
            raise ValueError(error)
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("app", logging.WARNING, "/a.py", 1, msg, args, exc_info)
    record.__dict__.update(extra)
    record.meta = meta
    record.tags = tags
    data = ENCODER.encode(record)
    assert data is not None
    assert len(data) <= 2048 and b"\n" not in data
    assert validate_entry(orjson.loads(data)) is None
