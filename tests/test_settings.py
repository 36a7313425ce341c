"""Settings as users give them: bounds in their own units, booleans as words, one error."""

from __future__ import annotations

import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from astralog_logging import AstralogHandler, ConfigError
from astralog_logging.handler import DEFAULTS

from ._procs import ROOT

SECRET = "tok-5b1e-never-printed"
GOOD: dict[str, Any] = dict(token=SECRET, project_id="proj", service="svc",
                            endpoint="http://127.0.0.1:9/v1/drain")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its settings; none leak in from the environment running pytest."""
    for name in list(os.environ):
        if name.startswith("ASTRALOG_"):
            monkeypatch.delenv(name)


def _refusal(**changes: Any) -> str:
    with pytest.raises(ConfigError) as info:
        AstralogHandler(**{**GOOD, **changes})
    assert SECRET not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize(("changes", "said"), [
    ({"max_buffer_bytes": 5}, "max_buffer_bytes must be at least 1 MiB (1048576); got 5"),
    ({"max_batch_bytes": 100}, "max_batch_bytes must be at least 1 KiB (1024); got 100"),
    ({"max_queue_size": -5}, "max_queue_size must be at least 1; got -5"),
    ({"flush_interval": 0}, "flush_interval must be more than 0 seconds; got 0"),
    ({"timeout": float("inf")}, "timeout must be a finite number; got inf"),
    ({"timeout": "nan"}, "timeout must be a finite number; got 'nan'"),
    ({"timeout": 1e300}, "timeout must be at most 3600 seconds (1 hour); got 1e+300"),
    ({"shutdown_timeout": 1e9}, "shutdown_timeout must be at most 3600 seconds (1 hour)"),
    ({"retry_deadline": 1e7}, "retry_deadline must be at most 86400 seconds (24 hours)"),
    ({"max_retries": 10**30}, "max_retries must be at most 1000000"),
    ({"max_batch_size": 20_000}, "max_batch_size must be at most 10000 (a drain's limit)"),
])
def test_bounds_are_said_in_the_settings_unit(changes: dict[str, Any], said: str) -> None:
    """A value out of bounds (or not finite) is refused with the bound in the user's unit."""
    assert said in _refusal(**changes)


@pytest.mark.parametrize(("changes", "said"), [
    ({"max_entry_bytes": 200_000, "max_batch_bytes": 100_000},
     "max_entry_bytes (200000 bytes) must not be more than max_batch_bytes (100000 bytes)"),
    ({"max_batch_bytes": 4 * 2**20, "max_buffer_bytes": 2 * 2**20},
     "max_buffer_bytes (2 MiB (2097152)) must be at least max_batch_bytes (4 MiB (4194304))"),
    ({"max_batch_bytes": 4 * 2**20, "spool_max_bytes": 2 * 2**20},
     "spool_max_bytes (2 MiB (2097152)) must be at least max_batch_bytes"),
])
def test_a_bound_set_by_another_setting_names_both(changes: dict[str, Any], said: str) -> None:
    """A bound that depends on another setting says which, with both values."""
    assert said in _refusal(**changes)


@pytest.mark.parametrize(("endpoint", "said"), [
    ("http://[::1/v1", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/v1/drain", "Port out of range"),
    ("http://127.0.0.1:0/v1/drain", "port 0"),
])
def test_a_malformed_endpoint_is_a_config_error(endpoint: str, said: str) -> None:
    """An unparsable endpoint or an impossible port is a ConfigError naming endpoint."""
    text = _refusal(endpoint=endpoint)
    assert text.startswith("endpoint") and said in text


@pytest.mark.parametrize("token", ["abc\ndef-secret", "abc\r\nX-Evil: 1", "tab\there",
                                   "euro\u20acsign", "snow\u2603man"])
def test_a_token_that_cannot_be_a_header_is_refused_unprinted(token: str) -> None:
    """Control characters and non-Latin-1 text are refused at construction, and neither the
    token nor its escaped form is in the message."""
    with pytest.raises(ConfigError) as info:
        AstralogHandler(**{**GOOD, "token": token})
    text = str(info.value)
    assert text.startswith("token ")
    for part in (token, repr(token)[1:-1], token[:4] + token[5:]):
        assert part not in text


def test_spool_dir_must_be_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """spool_dir=123 is refused, and nothing named 123 is created."""
    monkeypatch.chdir(tmp_path)
    assert "spool_dir must be the path of a directory" in _refusal(spool_dir=123)
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_the_spool_directory_goes_is_refused(tmp_path: Path) -> None:
    """The per-configuration spool directory blocked by a file fails at construction."""
    handler = AstralogHandler(**{**GOOD, "enabled": False})
    from astralog_logging import _config

    config = _config.build({**DEFAULTS, **GOOD, "spool_dir": str(tmp_path)})
    assert config is not None and config.spool_path is not None
    Path(config.spool_path).write_text("in the way")
    text = _refusal(spool_dir=str(tmp_path))
    assert text.startswith("spool_dir") and "in the way" in text
    handler.close()


@pytest.mark.parametrize("changes", [
    {"session_factory": "tests.test_settings:raising_factory"},
    {"session_factory": "tests.test_settings:none_factory"},
])
def test_a_session_factory_that_fails_is_refused_at_construction(
        changes: dict[str, Any]) -> None:
    """A factory that raises or returns None is found out once, when the handler is built."""
    text = _refusal(**changes)
    assert text.startswith("session_factory") and ("raised" in text or "NoneType" in text)


def raising_factory() -> Any:
    raise RuntimeError("proxy settings missing")


def none_factory() -> Any:
    return None


FALSY = ["no", "No", "false", "FALSE", "off", "0", 0, False]
TRUTHY = ["yes", "true", "On", "1", 1, True]


@pytest.mark.parametrize("word", FALSY + TRUTHY)
def test_booleans_accept_the_words_of_config_files(word: Any,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """console, capture_uncaught and redact_defaults read "no"/"off"/"false"/"0" as False."""
    expected = word in TRUTHY
    handler = AstralogHandler(enabled=False, console=word, capture_uncaught=word,
                              redact_defaults=word)
    log = logging.getLogger("test.words")
    log.addHandler(handler)
    try:
        log.warning("mirrored?")
    finally:
        log.removeHandler(handler)
        handler.close()
    assert ("mirrored?" in capsys.readouterr().err) is expected
    assert ("console_dropped" in handler.stats()) is expected


@pytest.mark.parametrize("setting", ["console", "capture_uncaught", "redact_defaults",
                                     "enabled"])
def test_other_words_are_refused_naming_the_setting(setting: str) -> None:
    """Anything but the accepted words is refused, naming the setting."""
    text = _refusal(**{setting: "maybe"})
    assert text.startswith(setting) and "yes/no" in text


def test_enabled_and_verify_from_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    """enabled="off" and ASTRALOG_ENABLED=No disable; verify="false" is False, not a path."""
    from astralog_logging import _config

    assert _config.build({**DEFAULTS, **GOOD, "enabled": "off"}) is None
    monkeypatch.setenv("ASTRALOG_ENABLED", "No")
    assert _config.build({**DEFAULTS, **GOOD}) is None
    monkeypatch.delenv("ASTRALOG_ENABLED")
    config = _config.build({**DEFAULTS, **GOOD, "verify": "false"})
    assert config is not None and config.verify is False


def test_dictconfig_strings_from_a_yaml_file(capsys: pytest.CaptureFixture[str]) -> None:
    """A dictConfig whose values came from YAML/INI as text ("no") is read as meant."""
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False,
        "handlers": {"astralog": {"()": "astralog_logging.AstralogHandler", "enabled": "no",
                                  "console": "no", "capture_uncaught": "off",
                                  "level": "INFO"}},
        "loggers": {"test.yaml": {"handlers": ["astralog"], "level": "INFO"}},
    })
    log = logging.getLogger("test.yaml")
    (handler,) = log.handlers
    try:
        log.warning("not mirrored")
        assert handler.level == logging.INFO
    finally:
        log.removeHandler(handler)
        handler.close()
    assert "not mirrored" not in capsys.readouterr().err


def test_a_bad_setting_is_one_error_and_nothing_at_exit(tmp_path: Path) -> None:
    """A refused setting raises one ConfigError naming it; the interpreter exits without a
    second traceback (the half-built handler was never registered with logging)."""
    script = tmp_path / "app.py"
    script.write_text(f"import sys\nsys.path.insert(0, {ROOT!r})\n"
                      "from astralog_logging import AstralogHandler\n"
                      "AstralogHandler(project_id='p', service='s', "
                      "endpoint='http://127.0.0.1:9/v1/drain', max_queue_size=-5)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTRALOG_")}
    env["ASTRALOG_TOKEN"] = SECRET
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.count("Traceback") == 1, proc.stderr
    last = proc.stderr.rstrip("\n").splitlines()[-1]
    assert last == ("astralog_logging.exceptions.ConfigError: max_queue_size must be at "
                    "least 1; got -5"), proc.stderr
    assert "Exception ignored" not in proc.stderr and SECRET not in proc.stderr


def test_a_bad_level_is_refused_before_registration() -> None:
    """level="LOUD" is a ConfigError naming level, and no handler is left registered."""
    before = len(logging._handlerList)  # type: ignore[attr-defined]
    text = _refusal(level="LOUD", enabled=False)
    assert text.startswith("level")
    assert len(logging._handlerList) == before  # type: ignore[attr-defined]
