"""Turning what each system sends into the sequence numbers of the records it carried.

One decoder per wire format. Each also checks that a record is what the benchmark logged
(the message was formatted, the ``seq`` field survived); a record that fails is reported as
``None`` and counted as invalid, which the report treats like a loss. The Astralog decoder
checks the drain protocol (docs: shared/protocol.md) as strictly as a drain would.
"""

from __future__ import annotations

import gzip
import re
import zlib
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional

import orjson

from ._workload import expected_prefix

Seqs = List[Optional[int]]


class Reply(NamedTuple):
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    batch_id: str = ""  # set by the Astralog decoder: the receiver stores a batch only once


def checked(seq: Any, message: Any) -> Optional[int]:
    if type(seq) is int and isinstance(message, str) and message.startswith(expected_prefix(seq)):
        return seq
    return None


def inflate(headers: Mapping[str, str], body: bytes) -> bytes:
    encoding = headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


# -- Astralog drain protocol (ours and the stdlib recipe) ----------------------------------

_BATCH_ID = re.compile(r"[0-9a-f]{32}\Z")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
_ENTRY_TYPES = (("timestamp", str), ("level", str), ("message", str), ("logger", str),
                ("host", str), ("pid", int), ("process_name", str), ("thread_name", str))
MAX_BODY = 5 * 1024 * 1024
MAX_ENTRIES = 10_000


def _error(message: str, index: Optional[int] = None) -> Reply:
    doc: Dict[str, Any] = {"error": message}
    if index is not None:
        doc["index"] = index
    return Reply(400, orjson.dumps(doc))


def astralog(headers: Mapping[str, str], body: bytes, token: str, seqs: Seqs) -> Reply:
    if headers.get("authorization") != f"Bearer {token}":
        return Reply(401, b'{"error":"bad token"}')
    if not headers.get("content-type", "").startswith("application/json"):
        return _error("Content-Type must be application/json")
    raw = inflate(headers, body)
    if len(raw) > MAX_BODY:
        return Reply(413, b'{"error":"body over 5 MiB"}')
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error("body is not JSON")
    if not isinstance(doc, dict):
        return _error("body is not an object")
    for field in ("project_id", "service"):
        if not isinstance(doc.get(field), str) or not doc[field]:
            return _error(field)
    batch_id = doc.get("batch_id")
    if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
        return _error("batch_id")
    if headers.get("idempotency-key") != batch_id:
        return _error("Idempotency-Key must equal batch_id")
    logs = doc.get("logs")
    if not isinstance(doc.get("sdk"), dict) or not isinstance(logs, list) or not logs:
        return _error("sdk/logs")
    if len(logs) > MAX_ENTRIES:
        return Reply(413, b'{"error":"over 10000 entries"}')
    for index, entry in enumerate(logs):
        fault = _entry_fault(entry)
        if fault:
            return _error(fault, index)
    for entry in logs:
        meta = entry.get("meta")
        seqs.append(checked(meta.get("seq") if isinstance(meta, dict) else None,
                           entry["message"]))
    return Reply(202, b'{"accepted":%d}' % len(logs), batch_id=batch_id)


def _entry_fault(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "entry is not an object"
    for field, kind in _ENTRY_TYPES:
        if not isinstance(entry.get(field), kind):
            return field
    if not _TIMESTAMP.match(entry["timestamp"]):
        return "timestamp"
    return ""


# -- the peers' own formats -----------------------------------------------------------------

def logtail(headers: Mapping[str, str], body: bytes, token: str, seqs: Seqs) -> Reply:
    import msgpack

    if headers.get("authorization") != f"Bearer {token}":
        return Reply(401)
    for frame in msgpack.unpackb(inflate(headers, body)):
        seqs.append(checked(frame.get("seq"), frame.get("message")))
    return Reply(202)


def jsonl(headers: Mapping[str, str], body: bytes, token: str, seqs: Seqs) -> Reply:
    """Lines of loguru's ``serialize=True`` output, as the benchmark's sink posts them."""
    for line in inflate(headers, body).splitlines():
        record = orjson.loads(line).get("record", {})
        seqs.append(checked(record.get("extra", {}).get("seq"), record.get("message")))
    return Reply(200)


def logstash_line(line: bytes, seqs: Seqs) -> None:
    doc = orjson.loads(line)
    seqs.append(checked(doc.get("extra", {}).get("seq"), doc.get("message")))


def otlp(headers: Mapping[str, str], body: bytes, token: str, seqs: Seqs) -> Reply:
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

    request = logs_service_pb2.ExportLogsServiceRequest()
    request.ParseFromString(inflate(headers, body))
    for resource in request.resource_logs:
        for scope in resource.scope_logs:
            for record in scope.log_records:
                seq = next((a.value.int_value for a in record.attributes if a.key == "seq"),
                           None)
                seqs.append(checked(seq, record.body.string_value))
    reply = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
    return Reply(200, reply, "application/x-protobuf")


HTTP_DECODERS: Dict[str, Callable[[Mapping[str, str], bytes, str, Seqs], Reply]] = {
    "astralog": astralog,
    "logtail": logtail,
    "jsonl": jsonl,
    "otlp": otlp,
}
