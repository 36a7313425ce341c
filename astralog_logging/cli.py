"""The ``astralog-logging`` command: ``drain``, ``demo``, ``send``, ``check``, ``tail``.

``main(argv) -> int`` so it is testable without a subprocess; errors are one clear line
on stderr and a non-zero exit, never a traceback. Each newer command keeps its logic in
its own module (``_cli._send``, ``_cli._check``, ``_cli._tail``); this one only wires them.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Optional, Sequence

from ._cli import _check, _send, _tail
from ._version import __version__

_EPILOG_DRAIN = """examples:
  astralog-logging drain                       # http://127.0.0.1:8080/v1/drain, astralog.db
                                               # and the page on http://127.0.0.1:8080/
  astralog-logging drain --port 9000 --db /tmp/logs.db --token my-secret
  ASTRALOG_ENDPOINT=http://127.0.0.1:8080/v1/drain ASTRALOG_TOKEN=default-secret-token \\
      ASTRALOG_PROJECT_ID=dev ASTRALOG_SERVICE=web python app.py
"""

_EPILOG_DEMO = """examples:
  astralog-logging demo                 # 4 processes, 2,000 records each
  astralog-logging demo --workers 8 --records 10000
  astralog-logging demo --serve         # then keep the page open until Ctrl-C
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (with where to look), not usage text plus the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


_EPILOG = """examples:
  astralog-logging drain                  # a local drain to try things against
  astralog-logging check                  # is this machine set up to ship logs?
  astralog-logging send "backup done"     # one message from a shell script
  astralog-logging tail --follow          # watch what the local drain stores

Each command has its own --help.
"""

_COMMANDS = {"send": _send, "check": _check, "tail": _tail}


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="astralog-logging", description="Ship Python logs to Astralog.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    drain = sub.add_parser(
        "drain", help="run a local drain that stores what it receives in SQLite",
        description="Run a local Astralog drain: it accepts exactly what protocol.md "
        "describes, stores entries in SQLite and prints one line per record.",
        epilog=_EPILOG_DRAIN, formatter_class=argparse.RawDescriptionHelpFormatter)
    drain.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (another than 127.0.0.1 prints a warning)")
    drain.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    drain.add_argument("--token", default="default-secret-token",
                       help="the bearer token senders must present")
    drain.add_argument("--db", default="astralog.db", help="SQLite file to store entries in")
    drain.add_argument("--quiet", action="store_true", help="do not print arriving records")
    drain.add_argument("--no-page", dest="page", action="store_false",
                       help="do not serve the page on / (only the drain's path answers)")

    demo = sub.add_parser(
        "demo", help="start a local drain, ship logs from several processes, show what arrived",
        epilog=_EPILOG_DEMO, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--workers", type=int, default=4, help="worker processes")
    demo.add_argument("--records", type=int, default=2000, help="records per worker")
    demo.add_argument("--db", default=None, help="keep the SQLite file here (default: temp)")
    demo.add_argument("--serve", action="store_true",
                      help="then print the page's URL and keep serving it until Ctrl-C")

    for name, module in _COMMANDS.items():
        command = sub.add_parser(
            name, help=module.HELP, description=module.HELP[0].upper() + module.HELP[1:] + ".",
            epilog=module.EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "drain":
            from .drain._cli import run

            return run(args.host, args.port, args.token, args.db, quiet=args.quiet,
                       page=args.page)
        if args.command == "demo":
            from ._cli._demo import run_demo

            return run_demo(workers=args.workers, records=args.records, db=args.db,
                            serve=args.serve)
        if args.command in _COMMANDS:
            return int(_COMMANDS[args.command].run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, not a traceback, for a command-line user
        from ._report import scrub

        where = f"astralog-logging {args.command}" if args.command else "astralog-logging"
        print(scrub(f"{where}: error: {exc}", getattr(args, "token", None) or ""),
              file=sys.stderr)
        return 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
