"""Settings and answers that used to hurt: echoed tokens, listener-only failures, a stdout
nobody reads. Real processes, the real local drain, and a real server that echoes headers."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from astralog_logging import AstralogHandler
from astralog_logging.cli import main
from astralog_logging.testing import LocalDrain

from ._procs import drain_env, free_port, program, run_program, wait_until
from ._web import wsgi_server

# A backslash and quotes: its repr- and JSON-escaped forms differ from the raw text.
TOKEN = 'tok\\"q\'-9f2c-never-printed'
FORMS = [TOKEN, repr(TOKEN)[1:-1], json.dumps(TOKEN)[1:-1], TOKEN.replace("\\", "\\\\")]

def _assert_hidden(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text, f"the token ({form!r}) leaked: {text!r}"


class _Echo:
    """A drain or proxy (WSGI) that writes the request's Authorization header back, raw and
    as a repr, in its error answers: 500 for the first request, 401 after."""

    seen = 0

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> List[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        auth = environ.get("HTTP_AUTHORIZATION", "")
        _Echo.seen += 1
        status = "500 Failed" if _Echo.seen == 1 else f"401 Rejected {auth}"
        body = json.dumps({"error": f"bad header {auth} ({auth!r})"}).encode()
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def echo() -> Iterator[str]:
    """The echoing server on 127.0.0.1; yields its endpoint."""
    _Echo.seen = 0
    with wsgi_server(_Echo()) as url:
        yield f"{url}/v1/drain"


def test_an_echoed_token_is_blanked_everywhere(echo: str, tmp_path: Path) -> None:
    """A drain echoing the Authorization header in 500 and 401 answers gets the token
    neither onto stderr, nor into on_error, nor into stats()["last_error"]."""
    (tmp_path / "hooks.py").write_text(
        "def bad(reason, count):\n"
        f"    open({str(tmp_path / 'calls.txt')!r}, 'a').write(f'{{count}} {{reason}}\\n')\n")
    proc = run_program("hostile_settings", "echoed", str(tmp_path), env=drain_env(echo, TOKEN))
    calls = (tmp_path / "calls.txt").read_text()
    _assert_hidden(proc.stdout, proc.stderr, calls)
    assert proc.stdout.splitlines()[0] == "False"
    assert "[token]" in proc.stdout and "[token]" in calls and "[token]" in proc.stderr
    assert "REJECTED THE TOKEN" in proc.stderr


def test_send_and_check_blank_an_echoed_token(echo: str,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    """`astralog-logging send` and `check` print no form of an echoed token."""
    argv = ["--endpoint", echo, "--token", TOKEN, "--project-id", "p", "--service", "s",
            "--timeout", "5"]
    assert main(["send", *argv, "hello"]) == 1
    assert main(["check", *argv]) == 1
    out, err = capfd.readouterr()
    _assert_hidden(out, err)
    assert "[token]" in err


def test_check_refuses_a_token_with_a_newline_unprinted(
        echo: str, capfd: pytest.CaptureFixture[str]) -> None:
    """A token with a newline is refused by check as a setting problem, in no form printed,
    and nothing is sent."""
    token = "line-one-secret\nline-two-secret"
    code = main(["check", "--endpoint", echo, "--token", token, "--project-id", "p",
                 "--service", "s"])
    out, err = capfd.readouterr()
    assert code == 1 and "token contains a control character" in err
    for part in ("line-one-secret", "line-two-secret"):
        assert part not in out + err
    assert _Echo.seen == 0


@pytest.mark.parametrize("fault", ["401", "down", "tls"])
def test_the_token_stays_out_of_every_failure(fault: str) -> None:
    """A refused token, a drain that is down and a TLS failure: the token is in no output,
    and plain HTTP behind https:// is said as such, not as a verification failure."""
    with LocalDrain(token=TOKEN) as drain:
        endpoint = drain.endpoint
        if fault == "401":
            drain.reject_token()
        elif fault == "down":
            endpoint = f"http://127.0.0.1:{free_port()}/v1/drain"
        else:
            endpoint = endpoint.replace("http://", "https://")
        proc = run_program("hostile_settings", "one_failing", env=drain_env(endpoint, TOKEN))
    _assert_hidden(proc.stdout, proc.stderr)
    assert proc.stdout.splitlines()[0] == "False"
    if fault == "tls":
        assert "the server does not speak TLS" in proc.stdout
        assert "verification failed" not in proc.stdout + proc.stderr


def test_a_different_token_never_joins_a_listener(drain: LocalDrain) -> None:
    """A process inheriting ASTRALOG_ATTACH joins only with the same token; with another it
    starts a listener of its own."""
    proc = run_program("hostile_settings", "join", env=drain_env(drain.endpoint, drain.token))
    assert proc.stdout.splitlines() == ["False True", "True False"], proc.stderr


def test_a_callback_in_the_main_script_is_refused() -> None:
    """on_error defined in the main script, which the listener cannot import, is a
    ConfigError at construction, not a listener that fails in a loop."""
    proc = run_program("hostile_settings", "main_script_callback",
                       env=drain_env("http://127.0.0.1:9/v1/drain", TOKEN))
    assert proc.stdout.startswith("on_error: on_error is defined in the main script")
    assert proc.stderr == ""


def test_a_callback_beside_the_script_runs_in_the_listener(
        drain: LocalDrain, tmp_path: Path) -> None:
    """on_error from a module found through the script's own sys.path is imported by the
    listener too, and called."""
    (tmp_path / "sidehooks.py").write_text(
        "def bad(reason, count):\n"
        f"    open({str(tmp_path / 'calls.txt')!r}, 'a').write(f'bad {{count}}\\n')\n")
    drain.reject_token()
    proc = run_program("hostile_settings", "side_callback", str(tmp_path),
                       env=drain_env(drain.endpoint, drain.token))
    assert proc.stdout.split() == ["False"]
    assert (tmp_path / "calls.txt").read_text() == "bad 1\n", proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_session_factory_failing_only_in_the_listener_is_said_once(
        drain: LocalDrain, tmp_path: Path) -> None:
    """A session_factory that works in the application but raises in the listener: one
    line says so, every record is counted as failed, the listener is not restarted."""
    (tmp_path / "sessions.py").write_text(
        "import os, requests\n"
        "def make():\n"
        "    if os.getpid() != int(os.environ['APP_PID']):\n"
        "        raise RuntimeError('no proxy configured in this process')\n"
        "    return requests.Session()\n")
    proc = run_program("hostile_settings", "listener_session", str(tmp_path),
                       env=drain_env(drain.endpoint, drain.token))
    assert proc.stdout.split() == ["False", "20", "True", "True"], proc.stderr
    assert proc.stderr.count("nothing can be delivered until it is fixed") == 1, proc.stderr
    assert "no proxy configured" in proc.stderr
    assert "Traceback" not in proc.stderr and "died" not in proc.stderr
    assert drain.requests() == []


def test_a_listener_that_cannot_start_is_not_restarted_every_second(
        drain: LocalDrain, tmp_path: Path) -> None:
    """A listener that ends itself at start (here: a broken tenacity on the app's path,
    which only the listener imports) is restarted after a growing pause, and its death is
    said once."""
    launches = tmp_path / "launches"
    (tmp_path / "tenacity.py").write_text(
        "import os\n"
        f"open({str(launches)!r}, 'a').write('x')\n"
        "os._exit(3)\n")
    env = drain_env(drain.endpoint, drain.token)
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"
    proc = run_program("hostile_settings", "no_start", str(launches), env=env)
    clean, launched = proc.stdout.split()
    assert clean == "False" and 2 <= int(launched) <= 4, proc.stderr  # each second: 8 or 9
    assert proc.stderr.count("starting a new one") <= 2, proc.stderr  # 10 s per line


def test_console_never_blocks_on_a_stdout_nobody_reads() -> None:
    """console=True with a stdout pipe nobody reads: every log call returns at once, and
    the lines over the bound are counted as console_dropped."""
    proc = subprocess.Popen(program("hostile_settings", "console"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stdout is not None
    lines: List[str] = []
    stderr = proc.stderr
    reader = threading.Thread(target=lambda: lines.extend(iter(stderr.readline, "")),
                              daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(line.startswith("took") for line in lines), 60,
                   "the logging loop to finish with stdout unread")
    finally:
        proc.stdout.close()  # unblocks the writer, if anything was blocked
        proc.wait(timeout=30)
        reader.join(10)
        stderr.close()
    (result,) = [line for line in lines if line.startswith("took")]
    _, took, _, dropped = result.split()
    assert float(took) < 20 and int(dropped) > 0, lines


def test_loss_lines_agree_in_number(drain: LocalDrain,
                                    capfd: pytest.CaptureFixture[str]) -> None:
    """A killed listener holding one record and sending one says "1 record that is lost and
    1 more that was being sent", not "1 record that are lost"."""
    drain.delay(5.0)
    handler = AstralogHandler(endpoint=drain.endpoint, token=drain.token, project_id="p",
                              service="s", flush_interval=0.05, max_batch_size=1)
    log = handler_logger(handler)
    try:
        log.info("on the wire")
        wait_until(lambda: handler.stats()["in_flight"] == 1, 20, "a batch on the wire")
        log.info("held")
        wait_until(lambda: handler.stats()["at_risk"] == 2, 20, "the listener to hold two")
        os.kill(handler.stats()["listener_pid"], signal.SIGKILL)
        wait_until(lambda: handler.stats()["lost"] == 1, 20, "the loss to be counted")
        handler._reporter.wait_written(5)  # the report's own thread; nothing public waits
    finally:
        drain.delay(0)
        log.removeHandler(handler)
        handler.close()
    err = capfd.readouterr().err
    assert "holding 1 record that is lost and 1 more that was being sent" in err, err


def handler_logger(handler: AstralogHandler) -> logging.Logger:
    log = logging.getLogger("test.agree")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handler)
    return log
