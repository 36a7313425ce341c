"""Options that ``send`` and ``check`` share: where to send and as whom.

Each falls back to its ``ASTRALOG_*`` variable exactly as the handler does, because both
commands build their configuration through the same ``_config.build``.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict

ENVIRONMENT_HELP = """environment (used when the option is not given):
  ASTRALOG_ENDPOINT, ASTRALOG_TOKEN, ASTRALOG_PROJECT_ID, ASTRALOG_SERVICE
"""


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where to send")
    group.add_argument("--endpoint", help="drain URL (default: $ASTRALOG_ENDPOINT, else "
                       "Astralog Cloud)")
    group.add_argument("--project-id", dest="project_id", help="default: $ASTRALOG_PROJECT_ID")
    group.add_argument("--service", help="default: $ASTRALOG_SERVICE")
    group.add_argument("--token", help="default: $ASTRALOG_TOKEN (prefer the variable: "
                       "a flag is visible to other users in the process list)")
    group.add_argument("--ca-bundle", dest="ca_bundle", metavar="PATH",
                       help="CA certificates to verify the drain's TLS certificate with")
    group.add_argument("--timeout", type=_seconds, default=30.0, metavar="SECONDS",
                       help="give up after this long (default: 30)")


def connection_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """The handler settings the options name; absent ones fall back to the environment."""
    settings: Dict[str, Any] = {
        name: getattr(args, name) for name in ("endpoint", "project_id", "service", "token")
        if getattr(args, name) is not None
    }
    if args.ca_bundle is not None:
        settings["verify"] = args.ca_bundle
    return settings


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value
