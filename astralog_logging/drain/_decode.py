"""A request body as it came off the wire -> parsed JSON, or why not (see protocol.md).

Apart from the protocol rules in ``_validate`` because this is transport, not protocol:
Content-Encoding, the decompressed-size cap that stops a gzip bomb, and JSON parsing.
"""

from __future__ import annotations

import zlib
from typing import Any, List, Optional, Tuple

import orjson

from ._validate import MAX_BODY_BYTES, Invalid


def decode_body(encoding: Optional[str], raw: bytes) -> Tuple[Any, Optional[Invalid]]:
    """Inflate (capped at 5 MiB, never unbounded) and parse a request body."""
    if encoding is not None:
        if encoding.strip().lower() != "gzip":
            return None, Invalid(f"Content-Encoding: expected gzip or no header, got {encoding!r}")
        try:
            inflated = _gunzip(raw, MAX_BODY_BYTES)
        except (zlib.error, EOFError) as exc:
            return None, Invalid(f"body: not valid gzip ({exc})")
        if inflated is None:
            return None, Invalid(f"body: over the limit of {MAX_BODY_BYTES} bytes decompressed",
                                 status=413)
        raw = inflated
    elif len(raw) > MAX_BODY_BYTES:
        return None, Invalid(f"body: {len(raw)} bytes, over the limit of {MAX_BODY_BYTES}",
                             status=413)
    if not raw:
        return None, Invalid("body: empty")
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        return None, Invalid(f"body: not valid JSON ({exc})")


def _gunzip(data: bytes, limit: int) -> Optional[bytes]:
    """The inflated bytes, or None as soon as they would pass ``limit`` (a gzip bomb)."""
    parts: List[bytes] = []
    total = 0
    while data:  # one gzip member after another, as gzip.decompress allows
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        part = inflater.decompress(data, limit - total + 1)
        total += len(part)
        if total > limit:
            return None
        if not inflater.eof:
            raise EOFError("the gzip stream ends early")
        parts.append(part)
        data = inflater.unused_data
    return b"".join(parts)
