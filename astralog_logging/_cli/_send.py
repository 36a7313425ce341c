"""``astralog-logging send``: one message, or each line of stdin, for shell scripts and cron.

It goes through a real AstralogHandler, so what arrives is exactly what an application's
record would be (host, pid, redaction, truncation, retries). Lines from stdin are shipped
as they come, which also serves ``long-running-job | astralog-logging send``. The exit
status is the acknowledged outcome: 0 only when the drain accepted every line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Dict, Iterable, List, Optional, TextIO

from ._common import ENVIRONMENT_HELP, add_connection_arguments, connection_settings

HELP = "ship one message, or each line of stdin, and wait until it is delivered"
EPILOG = """examples:
  astralog-logging send "backup finished"
  astralog-logging send --level error --tag backup --meta exit_code=3 "backup failed"
  ./nightly.sh 2>&1 | astralog-logging send --logger cron.nightly --tag cron
  astralog-logging send --level warn - < warnings.txt

exit status: 0 when the drain accepted every line, 1 when any was not delivered (the
reason is printed), 2 for a usage error.

""" + ENVIRONMENT_HELP

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", nargs="?", metavar="MESSAGE",
                        help="the message; omit it (or give -) to send each line of stdin")
    parser.add_argument("--level", default="info", choices=list(LEVELS),
                        type=str.lower, help="level of every line (default: info)")
    parser.add_argument("--tag", action="append", default=[], metavar="TAG",
                        help="a tag for filtering; repeat for more")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                        help="a field; VALUE is read as JSON when it is JSON (3, true), "
                        "else as text; repeat for more")
    parser.add_argument("--logger", default="cli", help="the logger name to send as "
                        "(default: cli)")
    add_connection_arguments(parser)


def run(args: argparse.Namespace, stdin: Optional[TextIO] = None) -> int:
    stdin = stdin or sys.stdin
    meta = _fields(args.meta)
    if args.message is not None and args.message != "-":
        lines: Iterable[str] = [args.message]
    elif stdin.isatty():
        raise ValueError("give a MESSAGE, or pipe lines into stdin (see --help)")
    else:
        lines = (line.rstrip("\r\n") for line in stdin)

    from ..handler import AstralogHandler

    handler = AstralogHandler(**connection_settings(args), tags=args.tag, meta=meta,
                              flush_interval=0.2, retry_deadline=args.timeout,
                              shutdown_timeout=args.timeout)
    if handler.stats().get("enabled") is False:
        handler.close()
        print("astralog-logging send: ASTRALOG_ENABLED is off; nothing was sent",
              file=sys.stderr)
        return 0
    logger = logging.getLogger(args.logger)
    saved = (logger.level, logger.propagate)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # only to Astralog, whatever else this process configured
    logger.addHandler(handler)
    level = LEVELS[args.level]
    try:
        for line in lines:
            if line.strip():
                logger.log(level, "%s", line)
        delivered = handler.flush(timeout=args.timeout)
        figures = handler.stats()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        handler.close()
    if delivered:
        return 0
    from .._report import scrub

    reason = figures.get("last_error") or f"no acknowledgement within {args.timeout:g} s"
    print(scrub(f"astralog-logging send: not delivered: {reason}"), file=sys.stderr)
    return 1


def _fields(pairs: List[str]) -> Dict[str, Any]:
    fields: Dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--meta expects KEY=VALUE; got {pair!r}")
        try:
            fields[key] = json.loads(text)
        except ValueError:
            fields[key] = text
    return fields
