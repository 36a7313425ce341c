"""What goes on the wire, and one HTTP POST of it: the seam between delivery policy and
the network.

``Envelope`` writes a batch's body and ``Transport`` its request (session, headers), for
the listener and for ``astralog-logging check`` alike. ``send`` never raises for anything
the network or the drain can do; it returns a small frozen result that the retry policy
reads. ``post`` is the raw request, for ``check``, which explains the exceptions itself.
One ``requests.Session`` per listener process keeps the connection alive between batches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import platform
import time
import zlib
from typing import Any, Callable, List, Optional, Union

import orjson
import requests

from .._report import scrub
from .._version import __version__

_PYTHON = ".".join(platform.python_version_tuple()[:2])
USER_AGENT = f"astralog-logging/{__version__} python/{_PYTHON}"
_SDK = orjson.dumps({"name": "astralog-logging", "version": __version__})


class Envelope:
    """A batch's body: the entries, already JSON, joined under a head written once."""

    def __init__(self, project_id: str, service: str, gzip: bool) -> None:
        self.gzip = gzip
        self._head = b'{"project_id":%s,"service":%s,"sdk":%s,"batch_id":"' % (
            orjson.dumps(project_id), orjson.dumps(service), _SDK)

    def body(self, batch_id: str, entries: List[bytes]) -> bytes:
        raw = b"".join((self._head, batch_id.encode(), b'","logs":[', b",".join(entries), b"]}"))
        if not self.gzip:
            return raw
        packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip member
        return packer.compress(raw) + packer.flush()


@dataclasses.dataclass(frozen=True)
class SendResult:
    status: Optional[int]  # None when no HTTP answer came back
    retry_after: Optional[float] = None
    error: str = ""  # the drain's reason or the network error, for reports
    index: Optional[int] = None  # 400: the first offending entry, when the drain names it
    accepted: Optional[int] = None


class Transport:
    def __init__(
        self,
        endpoint: str,
        token: str,
        *,
        timeout: float,
        verify: Union[bool, str] = True,
        session_factory: Optional[Callable[[], requests.Session]] = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.broken = ""  # why no request can be made: every send fails at once with it
        try:
            session = session_factory() if session_factory else requests.Session()
            if not callable(getattr(session, "post", None)):
                raise TypeError(f"it returned {type(session).__name__}, not a requests.Session")
        except Exception as exc:  # checked at construction; the listener's import may differ
            self.broken = scrub(f"session_factory failed: {exc}", token)
            session = requests.Session()
        self.session = session
        if session_factory is None or verify is not True:
            self.session.verify = verify
        self._auth = f"Bearer {token}"
        self._token = token

    def __repr__(self) -> str:
        return f"Transport({self.endpoint!r})"

    def post(self, body: bytes, batch_id: str, gzipped: bool,
             timeout: Optional[float] = None) -> requests.Response:
        """The request itself; raises what requests raises."""
        headers = {
            "Authorization": self._auth,
            "Content-Type": "application/json",
            "Idempotency-Key": batch_id,
            "User-Agent": USER_AGENT,
        }
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return self.session.post(self.endpoint, data=body, headers=headers,
                                 timeout=self.timeout if timeout is None else timeout)

    def send(self, body: bytes, batch_id: str, gzipped: bool,
             timeout: Optional[float] = None) -> SendResult:
        if self.broken:
            return SendResult(None, error=self.broken)
        try:
            response = self.post(body, batch_id, gzipped, timeout)
        except requests.RequestException as exc:
            return SendResult(None, error=scrub(_describe(exc), self._token))
        with response:
            result = _result(response)
        # A drain or a proxy may echo the request's headers in its answer.
        return dataclasses.replace(result, error=scrub(result.error, self._token))

    def close(self) -> None:
        self.session.close()


def _result(response: requests.Response) -> SendResult:
    status = response.status_code
    payload: Any = None
    with contextlib.suppress(orjson.JSONDecodeError, requests.RequestException):
        payload = orjson.loads(response.content)
    if not isinstance(payload, dict):
        payload = {}
    index = payload.get("index")
    accepted = payload.get("accepted")
    error = payload.get("error")
    return SendResult(
        status,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        error=str(error) if error is not None else ("" if status < 400 else response.reason or ""),
        index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        accepted=accepted if isinstance(accepted, int) else None,
    )


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait, from either form RFC 9110 allows (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _describe(exc: requests.RequestException) -> str:
    """A one-line reason without the request's headers (they carry the token)."""
    kind = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        return f"{kind}: {tls_problem(str(exc))}"
    reason = str(exc.args[0]) if exc.args else ""
    return f"{kind}: {reason[:200]}"


_NOT_TLS = ("wrong version number", "record layer failure", "unknown protocol",
            "http request", "packet length too long")


def tls_problem(text: str) -> str:
    """What an SSLError means, in words: OpenSSL's are cryptic, and not every TLS failure
    is a verification failure (plain HTTP on an https:// endpoint is the common one)."""
    low = text.lower()
    if any(hint in low for hint in _NOT_TLS):
        return "the server does not speak TLS (should the endpoint be http://?)"
    if "hostname" in low or "doesn't match" in low or "ip address mismatch" in low:
        return "TLS verification failed: the certificate is for another host name"
    if "certificate verify failed" in low or "certificate_verify_failed" in low:
        return "TLS verification failed: the certificate is not trusted (a private CA " \
            "needs verify=PATH)"
    return "the TLS handshake failed"
