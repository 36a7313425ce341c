"""Wrong configuration fails at construction, naming the setting and never the token."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from astralog_logging import AstralogHandler, ConfigError
from astralog_logging.testing import LocalDrain

SECRET = "tok-7f3a9c-do-not-print"
GOOD: dict[str, Any] = dict(token=SECRET, project_id="proj", service="svc",
                            endpoint="http://127.0.0.1:9/v1/drain", enabled=False)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASTRALOG_TOKEN", "ASTRALOG_PROJECT_ID", "ASTRALOG_SERVICE",
                 "ASTRALOG_ENDPOINT", "ASTRALOG_ENABLED"):
        monkeypatch.delenv(name, raising=False)


def _build(**changes: Any) -> AstralogHandler:
    settings = {**GOOD, "enabled": True, **changes}
    settings = {k: v for k, v in settings.items() if v is not ...}
    return AstralogHandler(**settings)


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"token": ...}, ["token", "ASTRALOG_TOKEN"]),
        ({"project_id": ...}, ["project_id", "ASTRALOG_PROJECT_ID"]),
        ({"service": "  "}, ["service", "ASTRALOG_SERVICE"]),
        ({"max_batch_size": 0}, ["max_batch_size"]),
        ({"max_batch_size": 20_000}, ["max_batch_size"]),
        ({"flush_interval": 0}, ["flush_interval"]),
        ({"flush_interval": -1.5}, ["flush_interval"]),
        ({"max_queue_size": "many"}, ["max_queue_size"]),
        ({"endpoint": "ftp://example.com/drain"}, ["endpoint", "http"]),
        ({"endpoint": "example.com/drain"}, ["endpoint"]),
        ({"endpoint": "https://user:pw@example.com/drain"}, ["endpoint", "credentials"]),
        ({"compression": "brotli"}, ["compression"]),
        ({"enabled": "maybe"}, ["enabled"]),
        ({"verify": "/nonexistent/ca.pem"}, ["verify"]),
        ({"session_factory": lambda: None}, ["session_factory"]),
        ({"session_factory": "no.such.module:make"}, ["session_factory"]),
        ({"before_send": 42}, ["before_send"]),
        ({"tokn": "x"}, ["tokn", "token"]),
    ],
)
def test_bad_setting_names_itself(changes: dict[str, Any], names: list[str]) -> None:
    """Each bad setting raises ConfigError (a ValueError) naming it, without the token."""
    with pytest.raises(ValueError) as info:
        _build(**changes)
    assert isinstance(info.value, ConfigError)
    for name in names:
        assert name in str(info.value)
    assert SECRET not in str(info.value)


def test_disabled_needs_no_credentials() -> None:
    """enabled=False (or ASTRALOG_ENABLED=0) starts nothing and requires no token."""
    handler = AstralogHandler(enabled=False)
    logging.getLogger("test.disabled").addHandler(handler)
    try:
        logging.getLogger("test.disabled").error("goes nowhere")
        assert handler.flush() is True
        assert handler.stats() == {"enabled": False}
    finally:
        logging.getLogger("test.disabled").removeHandler(handler)
        handler.close()


def test_disabled_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """ASTRALOG_ENABLED=false disables without any other setting."""
    monkeypatch.setenv("ASTRALOG_ENABLED", "false")
    handler = AstralogHandler()
    handler.close()
    assert "disabled" in repr(handler)


def test_token_never_in_repr_or_attributes(drain: LocalDrain, tmp_path: Any) -> None:
    """No repr of the handler, its attributes or theirs, nor a spool file name, shows it."""
    handler = AstralogHandler(**{**GOOD, "enabled": True, "endpoint": drain.endpoint},
                              spool_dir=str(tmp_path))
    try:
        logging.getLogger("test.secret").addHandler(handler)
        logging.getLogger("test.secret").error("hello")
        assert handler.flush(10)
        seen = [handler, *vars(handler).values()]
        seen += [v for obj in list(seen) if hasattr(obj, "__dict__") for v in vars(obj).values()]
        dumped = "".join(repr(v) for v in seen)
        assert SECRET not in dumped
        assert not any(SECRET in str(p) for p in tmp_path.rglob("*"))
    finally:
        logging.getLogger("test.secret").removeHandler(handler)
        handler.close()


def test_console_mirrors_by_level(capsys: pytest.CaptureFixture[str]) -> None:
    """console=True prints info to stdout and warnings to stderr, with the formatter."""
    handler = AstralogHandler(enabled=False, console=True)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("test.console")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("hello %s", "out")
        log.warning("careful")
    finally:
        log.removeHandler(handler)
        handler.close()
    captured = capsys.readouterr()
    assert captured.out == "INFO hello out\n"
    assert captured.err == "WARNING careful\n"


def test_each_default_is_written_once_in_the_signature() -> None:
    """Config has no defaults of its own: handler.DEFAULTS is read from the handler's
    signature, and a Config built from it alone carries exactly those values."""
    import dataclasses
    import inspect

    from astralog_logging import _config
    from astralog_logging._encode._redact import DEFAULT_REDACT_KEYS
    from astralog_logging.handler import DEFAULTS

    fields = dataclasses.fields(_config.Config)
    assert [f.name for f in fields if f.default is not dataclasses.MISSING
            or f.default_factory is not dataclasses.MISSING] == []
    signature = inspect.signature(AstralogHandler.__init__).parameters.values()
    assert {p.name: p.default for p in signature if p.kind is p.KEYWORD_ONLY
                        and p.name != "_address"} == DEFAULTS
    given = {"token": "t", "project_id": "p", "service": "s"}
    config = _config.build({**DEFAULTS, **given})
    assert config is not None
    for field in fields:
        if field.name not in given and field.name != "entry" and DEFAULTS[field.name] is not None:
            assert getattr(config, field.name) == DEFAULTS[field.name], field.name
    assert config.entry == _config.EntrySettings((), {}, DEFAULT_REDACT_KEYS, None)


def test_the_listener_rebuilds_the_same_typed_config() -> None:
    """What crosses the listener's stdin (JSON) becomes a Config equal to the owner's."""
    import orjson

    from astralog_logging import _config
    from astralog_logging.handler import DEFAULTS

    config = _config.build({**DEFAULTS, "token": "t", "project_id": "p", "service": "s",
                            "verify": False, "compression": None, "max_retries": 3})
    assert config is not None
    sent = orjson.loads(orjson.dumps(config.listener_settings()))
    assert _config.Config.from_listener_settings(sent) == config
