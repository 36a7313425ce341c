"""Protocol batches built by hand and POSTed the way our sender does, for the drain's and
the viewer's tests: a valid entry and body to start from, each field overridable."""

from __future__ import annotations

import gzip as gzip_module
import json
import sys
import uuid
from typing import Any, Dict, List, NamedTuple, Optional, Union

import requests

from astralog_logging import __version__
from astralog_logging.testing import LocalDrain

USER_AGENT = f"astralog-logging/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"


def make_entry(i: int = 0, **fields: Any) -> Dict[str, Any]:
    """A valid entry (message ``m<i>``, with a chained exception), ``fields`` replaced."""
    entry: Dict[str, Any] = {
        "timestamp": "2026-11-24T10:00:00.123456Z", "level": "error", "message": f"m{i}",
        "logger": "app.db", "host": "web-1", "pid": 4242, "process_name": "MainProcess",
        "thread_name": "MainThread",
        "source": {"file": "app/db.py", "line": 88, "function": "connect"},
        "trace_id": "req-8f72", "span_id": None, "tags": ["db"], "meta": {"i": i},
        "exception": {"type": "ConnectionError", "module": "builtins", "message": "refused",
                      "stacktrace": "Traceback ...",
                      "frames": [{"file": "app/db.py", "line": 88, "function": "connect"}],
                      "cause": {"type": "OSError", "module": "builtins", "message": "no route",
                                "stacktrace": "Traceback ...", "frames": [], "cause": None}},
        "truncated": False,
    }
    entry.update(fields)
    return entry


def minimal_entry() -> Dict[str, Any]:
    """make_entry's required fields only (protocol.md): the smallest valid entry."""
    entry = make_entry()
    return {key: entry[key] for key in ("timestamp", "level", "message", "logger", "host",
                                         "pid", "process_name", "thread_name")}


def make_body(entries: Optional[List[Any]] = None, **fields: Any) -> Dict[str, Any]:
    """A valid batch of ``entries`` (three of make_entry's by default), ``fields`` replaced."""
    body: Dict[str, Any] = {"project_id": "my-startup", "service": "web",
                            "batch_id": uuid.uuid4().hex,
                            "sdk": {"name": "astralog-logging", "version": __version__},
                            "logs": entries if entries is not None else
                            [make_entry(i) for i in range(3)]}
    body.update(fields)
    return body


class Target(NamedTuple):
    """Where to post when there is no LocalDrain object (a drain in another process)."""

    endpoint: str
    token: str


def post(drain: Union[LocalDrain, Target], body: Any, *, gzip: bool = True,
          data: Optional[bytes] = None,
          headers: Optional[Dict[str, Optional[str]]] = None) -> requests.Response:
    """POST ``body`` (or raw ``data``) with the headers our sender sends; ``headers`` set
    to None are left out."""
    raw = json.dumps(body).encode() if data is None else data
    sent: Dict[str, Optional[str]] = {
        "Authorization": f"Bearer {drain.token}", "Content-Type": "application/json",
        "Idempotency-Key": body.get("batch_id") if isinstance(body, dict) else None,
        "User-Agent": USER_AGENT}
    if gzip:
        sent["Content-Encoding"] = "gzip"
        raw = gzip_module.compress(raw) if data is None else raw
    sent.update(headers or {})
    return requests.post(drain.endpoint, data=raw, timeout=10,
                         headers={k: v for k, v in sent.items() if v is not None})
