"""``astralog-logging check``: is this machine set up to ship logs, and if not, why not?

It builds the configuration the way the handler does, prints what it will use (never the
token: only its length and fingerprint), then POSTs one test entry itself, with the
listener's own session, envelope and headers but without retries, so it can tell apart
what the listener only counts: a refused token, a wrong
project, a wrong URL, DNS, a refused port, TLS and proxy trouble. Everything printed
passes through a filter that blanks the token, in case a server or proxy echoes it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Optional, TextIO
from urllib.parse import urlsplit, urlunsplit

from ._common import ENVIRONMENT_HELP, add_connection_arguments, connection_settings

if TYPE_CHECKING:
    import requests

    from .._config import Config
    from .._listener._transport import Transport

HELP = "check the configuration and reach the drain with a test entry"
EPILOG = """examples:
  astralog-logging check
  astralog-logging check --endpoint http://127.0.0.1:8080/v1/drain --project-id dev
  HTTPS_PROXY=http://proxy.internal:3128 astralog-logging check --ca-bundle /etc/ssl/corp.pem

exit status: 0 when the drain accepted the test entry, 1 when something is wrong (one line
on stderr says what), 2 for a usage error. The test entry is stored like any other, with
logger "astralog_logging.check".

""" + ENVIRONMENT_HELP

_DNS_HINTS = ("Name or service not known", "nodename nor servname", "NameResolutionError",
              "Temporary failure in name resolution", "getaddrinfo failed", "No address")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)


def run(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    from .. import _config
    from ..exceptions import ConfigError
    from ..handler import DEFAULTS

    out = out or sys.stdout

    settings = connection_settings(args)
    token = str(settings.get("token") or os.environ.get("ASTRALOG_TOKEN") or "")

    def say(label: str, value: str) -> None:
        print(f"{label:<11} {_hide(value, token)}", file=out, flush=True)

    def problem(text: str) -> int:
        print(f"astralog-logging check: problem: {_hide(text, token)}", file=sys.stderr)
        return 1

    if os.environ.get("ASTRALOG_ENABLED", "1").strip().lower() in ("0", "false", "no", "off"):
        say("note", "ASTRALOG_ENABLED is off here: a handler in this environment sends nothing")
    try:
        config = _config.build({**DEFAULTS, **settings, "enabled": True, "timeout": args.timeout})
    except ConfigError as exc:
        return problem(str(exc))
    assert config is not None  # enabled=True
    say("endpoint", config.endpoint)
    say("project_id", config.project_id)
    say("service", config.service)
    say("token", f"set ({len(config.token)} characters, fingerprint "
        f"{config.token_fingerprint})")
    transport = _transport(config)
    if transport.broken:
        return problem(transport.broken)
    proxy = _proxy(transport.session, config.endpoint)
    say("proxy", proxy or "none")
    say("tls", _tls(config))
    started = time.perf_counter()
    try:
        batch_id = os.urandom(16).hex()
        response = transport.post(_body(config, batch_id), batch_id,
                                  config.compression == "gzip")
    except Exception as exc:  # every network failure is a finding, not a crash
        return problem(_explain_failure(exc, config, proxy))
    finally:
        transport.close()
    took = (time.perf_counter() - started) * 1000
    verdict = _explain_answer(response, config, proxy)
    if verdict:
        return problem(verdict)
    say("result", f"ok: the drain accepted a test entry (HTTP {response.status_code}, "
        f"{took:.0f} ms)")
    return 0


def _transport(config: Config) -> Transport:
    from .._listener._transport import Transport
    from .._validate import resolve

    factory = resolve("session_factory", config.session_factory) \
        if config.session_factory else None
    return Transport(config.endpoint, config.token, timeout=config.timeout,
                     verify=config.verify, session_factory=factory)


def _body(config: Config, batch_id: str) -> bytes:
    from .._encode._entry import EntryEncoder
    from .._listener._transport import Envelope

    record = logging.LogRecord("astralog_logging.check", logging.INFO, __file__, 0,
                               "astralog-logging check: connectivity test", None, None)
    entry = EntryEncoder(tags=("astralog-check",)).encode(record)
    assert entry is not None  # no before_send here
    envelope = Envelope(config.project_id, config.service, config.compression == "gzip")
    return envelope.body(batch_id, [entry])


def _explain_answer(response: requests.Response, config: Config,
                    proxy: Optional[str]) -> Optional[str]:
    """None when the drain accepted the entry, else what is wrong, in plain words."""
    status = response.status_code
    try:
        answer: Any = response.json()
    except ValueError:
        answer = None
    said = answer.get("error") if isinstance(answer, dict) else None
    detail = f"HTTP {status}" + (f": {said}" if said else "")
    if status in (200, 202):
        if isinstance(answer, dict) and "accepted" in answer:
            return None
        return (f"something answered {detail} at {config.endpoint}, but not as an Astralog "
                "drain does: check the endpoint URL (a login page or a proxy?)")
    if status == 401:
        return f"the drain refused the token ({detail}): check ASTRALOG_TOKEN or --token"
    if status == 403:
        return (f"the token may not write to project {config.project_id!r} ({detail}): check "
                "ASTRALOG_PROJECT_ID, or use a token of that project")
    if status in (404, 405):
        return (f"no drain answers at {config.endpoint} ({detail}): check the URL's path "
                "(it usually ends in /v1/drain)")
    if status == 407:
        return (f"the proxy {proxy or ''} wants credentials ({detail}): give them in the proxy "
                "URL, e.g. HTTPS_PROXY=http://user:password@host:port")
    if status == 400:
        return (f"the drain refused the test entry as invalid ({detail}): is this an "
                "Astralog drain speaking protocol version 1?")
    if status == 429 or status >= 500:
        return (f"the drain is reachable but cannot take logs right now ({detail}); "
                "try again later")
    return f"unexpected answer from {config.endpoint} ({detail})"


def _explain_failure(exc: Exception, config: Config, proxy: Optional[str]) -> str:
    """What a network exception means for someone setting up a sender."""
    import requests

    parts = urlsplit(config.endpoint)
    host = parts.hostname or "?"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    text = str(exc)
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"cannot get through the proxy {proxy or '(from the environment)'}: {_short(exc)}"
    if isinstance(exc, requests.exceptions.SSLError):
        if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
            return (f"{host}:{port} does not speak TLS: should the endpoint start with "
                    "http:// rather than https://?")
        if "hostname" in text.lower() or "match" in text.lower():
            return f"TLS problem: the certificate of {host} is for another host name"
        return (f"TLS problem: the certificate of {host} is not trusted ({_short(exc)}); if "
                "the drain uses a private CA, give its certificates with --ca-bundle PATH")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return (f"no connection to {host}:{port} within {config.timeout:g} s: a firewall, a "
                "wrong address, or the host is down")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return (f"{host}:{port} accepted the connection but sent no answer within "
                f"{config.timeout:g} s")
    if any(hint in text for hint in _DNS_HINTS):
        return f"cannot resolve the host name {host!r}: check the endpoint (and DNS)"
    if "Connection refused" in text or "Errno 111" in text:
        return (f"nothing is listening on {host}:{port} (connection refused): is the drain "
                "running, and is the port right?")
    return f"cannot reach {config.endpoint}: {type(exc).__name__}: {_short(exc)}"


def _proxy(session: requests.Session, endpoint: str) -> Optional[str]:
    """The proxy requests will use for ``endpoint``, without any credentials in it."""
    import requests

    scheme = urlsplit(endpoint).scheme
    found = dict(requests.utils.get_environ_proxies(endpoint))
    found.update(session.proxies or {})
    url = found.get(scheme) or found.get("all")
    if not url:
        return None
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _tls(config: Config) -> str:
    if not config.endpoint.startswith("https://"):
        host = urlsplit(config.endpoint).hostname or ""
        local = host in ("localhost", "::1") or host.startswith("127.")
        return "none (plain http)" + ("" if local else ": the token travels unencrypted")
    if config.verify is False:
        return "certificate NOT verified"
    if isinstance(config.verify, str):
        return f"verified with {config.verify}"
    return "verified with the system's CA certificates"


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."


def _hide(text: str, token: str) -> str:
    """Every form of the token blanked: raw, and escaped the way exceptions and JSON
    write it (a token with a newline would show as ``\\n`` there)."""
    from .._report import scrub

    return scrub(text, token)
