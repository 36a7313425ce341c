"""What must not leave the host: secret-named meta keys and credentials inside text.

Keys are compared after :func:`normalize_key`, and only as whole names, so ``api-key``,
``API_KEY`` and ``apiKey`` all match ``apikey`` while ``max_tokens`` and ``session_count``
are kept. The default list is deliberately long (compound names such as ``db_password``
included) because a key that is missing from it leaks silently.

Text (messages, exception text, string values in meta) is scrubbed of three credential
forms: ``scheme://user:PASSWORD@host``, ``Bearer TOKEN`` and ``password=VALUE``-style pairs
(query strings, libpq DSNs). One pre-test (:func:`needs_scrub`, four substring tests)
decides whether a text is scrubbed at all, so a message without ``://``, ``bearer`` or
``=`` costs a few membership checks and no regex.

These are the rules only; :mod:`._sanitize` applies them to entries.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

__all__ = [
    "DEFAULT_REDACT_KEYS",
    "REDACTED",
    "build_redact_keys",
    "needs_scrub",
    "normalize_key",
    "scrub_text",
]

REDACTED = "[REDACTED]"

DEFAULT_REDACT_KEYS: frozenset[str] = frozenset(
    {
        # passwords
        "password", "passwd", "pwd", "passphrase",
        "dbpassword", "databasepassword", "userpassword", "adminpassword", "rootpassword",
        "newpassword", "oldpassword", "currentpassword", "confirmpassword",
        "passwordconfirmation", "mysqlpwd", "pgpassword", "smtppassword",
        # secrets and keys
        "secret", "secrets", "clientsecret", "appsecret", "secretkey", "apisecret",
        "webhooksecret", "signingsecret", "jwtsecret", "sharedsecret", "consumersecret",
        "secretaccesskey", "awssecretaccesskey", "privatekey", "signingkey",
        "encryptionkey", "masterkey", "apikey", "xapikey", "apitoken", "accountkey",
        "storagekey", "clientassertion", "signature", "credentials", "credential",
        # tokens
        "token", "accesstoken", "refreshtoken", "idtoken", "authtoken",
        "bearertoken", "sessiontoken", "securitytoken", "xamzsecuritytoken", "oauthtoken",
        "csrftoken", "xcsrftoken", "csrf", "xsrftoken", "xxsrftoken", "githubtoken",
        "slacktoken", "jwt", "otp", "totp", "mfacode",
        # http auth and sessions
        "authorization", "proxyauthorization", "auth", "cookie", "cookies", "setcookie",
        "session", "sessionid", "sessionkey", "connect.sid", "phpsessid", "jsessionid",
        # payment and identity
        "creditcard", "creditcardnumber", "cardnumber", "ccnumber", "cvv", "cvv2", "cvc",
        "ssn", "socialsecuritynumber",
    }
)  # fmt: skip


def normalize_key(key: str) -> str:
    """The comparable form of a key: lower case without ``-``, ``_`` and spaces."""
    return key.lower().replace("-", "").replace("_", "").replace(" ", "")


def build_redact_keys(keys: Iterable[str], *, extend: bool = True) -> frozenset[str]:
    """The key set for ``redact=[...]``: added to the defaults, or replacing them."""
    given = frozenset(normalize_key(k) for k in keys)
    return DEFAULT_REDACT_KEYS | given if extend else given


_URL_USERINFO = r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*:)[^\s/?#]*@"
# A token has a digit or symbol, or is long: "the bearer of bad news" is left alone.
_BEARER = r"(?i)(\bbearer\s+)(?=[a-z0-9\-._~+/]*[0-9\-._~+/]|[a-z]{20})[a-z0-9\-._~+/]{6,}=*"
_PAIR = (
    r"(?i)(\b[\w\-]*?(?:passw(?:or)?d|pwd|secret|token|api[_\-]?key|private[_\-]?key"
    r"|signature|credential|auth))=[^\s&;,\"']+"
)
_PAIR_HINTS = (
    "password=", "passwd=", "pwd=", "secret=", "token=", "key=", "signature=",
    "credential=", "auth=",
)  # fmt: skip


def needs_scrub(text: str) -> bool:
    """The one credential pre-test: False means :func:`scrub_text` would return ``text``
    unchanged. The encoder runs it once per message and per meta string."""
    return "://" in text or "=" in text or "earer" in text or "EARER" in text


@functools.cache
def _pattern(source: str) -> re.Pattern[str]:
    """Compiled on first use: the three cost ~4 ms at import, and most processes log no
    text that needs them."""
    return re.compile(source)


def scrub_text(text: str) -> str:
    """``text`` with URL passwords, bearer tokens and ``secret=value`` values replaced."""
    if "://" in text and "@" in text:
        text = _pattern(_URL_USERINFO).sub(r"\1" + REDACTED + "@", text)
    if "earer" in text or "EARER" in text:
        text = _pattern(_BEARER).sub(r"\1" + REDACTED, text)
    if "=" in text:
        lowered = text.lower()
        if any(hint in lowered for hint in _PAIR_HINTS):
            text = _pattern(_PAIR).sub(r"\1=" + REDACTED, text)
    return text
