"""Redaction: secret-named keys anywhere in meta, and credentials inside text."""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import Any

import orjson
import pytest

from astralog_logging._encode._entry import EntryEncoder
from astralog_logging._encode._redact import (
    DEFAULT_REDACT_KEYS,
    REDACTED,
    build_redact_keys,
    normalize_key,
    scrub_text,
)
from astralog_logging.drain._validate import validate_entry


def meta_of(extra: dict[str, Any], encoder: EntryEncoder | None = None) -> dict[str, Any]:
    record = logging.LogRecord("app", logging.INFO, "/a.py", 1, "m", (), None)
    record.__dict__.update(extra)
    entry = orjson.loads((encoder or EntryEncoder()).encode(record) or b"")
    assert validate_entry(entry) is None
    return dict(entry.get("meta", {}))


def test_normalize_key_ignores_case_dashes_underscores_spaces() -> None:
    """API-Key, api_key, apiKey and 'Api Key' all normalize to apikey."""
    assert {normalize_key(k) for k in ("API-Key", "api_key", "apiKey", "Api Key")} == {"apikey"}


@pytest.mark.parametrize("key", [
    "password", "Password", "db_password", "PASSWD", "secret", "client_secret", "token",
    "access_token", "refreshToken", "api-key", "X-Api-Key", "authorization", "Cookie",
    "Set-Cookie", "sessionid", "credit_card", "private_key", "aws_secret_access_key", "cvv",
])  # fmt: skip
def test_secret_named_keys_are_redacted(key: str) -> None:
    """Each common secret key name is replaced by [REDACTED] whatever its value's type."""
    assert meta_of({key: {"deep": "value"}})[key] == REDACTED


@pytest.mark.parametrize("key", ["max_tokens", "session_count", "token_count", "passing",
                                 "author", "secretary", "cookie_consent"])  # fmt: skip
def test_only_whole_key_matches_are_redacted(key: str) -> None:
    """Keys that merely contain a secret word keep their values."""
    assert meta_of({key: 5})[key] == 5


def test_nested_dicts_lists_and_tuples_are_redacted_without_touching_the_caller() -> None:
    """Secrets deep inside dicts, lists and tuples are redacted; the caller's objects unchanged."""
    payload = {"user": {"name": "ann", "password": "p"},
               "items": [{"token": "t"}, ("x", {"pwd": 1})]}  # fmt: skip
    meta = meta_of({"payload": payload})
    assert meta["payload"] == {
        "user": {"name": "ann", "password": REDACTED},
        "items": [{"token": REDACTED}, ["x", {"pwd": REDACTED}]],
    }
    assert payload["user"]["password"] == "p"  # type: ignore[index]


def test_dataclass_fields_are_redacted() -> None:
    """A dataclass in meta is sent as its fields, with secret-named fields redacted."""

    @dataclasses.dataclass
    class Login:
        user: str
        password: str

    assert meta_of({"login": Login("ann", "hunter2")})["login"] == {"user": "ann",
                                                                    "password": REDACTED}


def test_redaction_off_sends_everything() -> None:
    """redact_keys=None turns key redaction and text scrubbing off."""
    encoder = EntryEncoder(redact_keys=None)
    assert meta_of({"password": "p", "dsn": "pg://u:pw@h"}, encoder) == {
        "password": "p", "dsn": "pg://u:pw@h"}  # fmt: skip


def test_custom_key_lists_extend_or_replace() -> None:
    """build_redact_keys adds normalized names to the defaults, or replaces them."""
    extended = build_redact_keys(["Customer-PIN"])
    assert "customerpin" in extended and extended >= DEFAULT_REDACT_KEYS
    assert build_redact_keys(["ssn"], extend=False) == frozenset({"ssn"})
    encoder = EntryEncoder(redact_keys=extended)
    assert meta_of({"customer_pin": 1234}, encoder)["customer_pin"] == REDACTED


@pytest.mark.parametrize(("text", "scrubbed"), [
    ("postgres://app:hunter2@db:5432/x", "postgres://app:[REDACTED]@db:5432/x"),
    ("redis://:s3cret@cache", "redis://:[REDACTED]@cache"),
    ("https://u:p@ss@host/path", "https://u:[REDACTED]@host/path"),
    ("Authorization: Bearer eyJhbGciOi.J9.x-y_z", "Authorization: Bearer [REDACTED]"),
    ("bearer abc123==", "bearer [REDACTED]"),
    ("GET /cb?code=1&access_token=abc&x=2", "GET /cb?code=1&access_token=[REDACTED]&x=2"),
    ("host=db user=app password=hunter2 dbname=x", "host=db user=app password=[REDACTED] dbname=x"),
])  # fmt: skip
def test_credentials_in_text_are_scrubbed(text: str, scrubbed: str) -> None:
    """URL passwords, bearer tokens and secret=value pairs are replaced in text."""
    assert scrub_text(text) == scrubbed


@pytest.mark.parametrize("text", [
    "https://registry.example.org/@scope/pkg", "https://example.com:8080/a@b",
    "retry=3 timeout=10 max_tokens=5", "user ann logged in", "the bearer of bad news",
])  # fmt: skip
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Text without credentials comes back unchanged."""
    assert scrub_text(text) == text


def test_message_meta_strings_and_exception_text_are_scrubbed() -> None:
    """Credentials are scrubbed in the message, meta string values and the exception."""
    try:
        raise ConnectionError("mysql://root:toor@db failed")
    except ConnectionError:
        info = sys.exc_info()
    record = logging.LogRecord("app", logging.ERROR, "/a.py", 1, "to %s", ("amqp://u:pw@mq",), info)
    record.url = "https://u:pw@x"
    data = EntryEncoder().encode(record) or b""
    assert b"toor" not in data and b":pw@" not in data
    assert validate_entry(orjson.loads(data)) is None
