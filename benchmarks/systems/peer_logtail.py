"""logtail-python (Better Stack): a handler with an in-process queue and a flush thread."""

from __future__ import annotations

from typing import Any

from .._receiving import TOKEN
from . import StdlibSystem


class Logtail(StdlibSystem):
    label = "logtail-python"
    receiver = "logtail"
    setup_per_process = True
    notes = ("LogtailHandler(source_token, host, drop_extra_events=False): its default drops "
             "what exceeds a 1000-record buffer; msgpack over HTTP")

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        from logtail import LogtailHandler

        self.handler: Any = LogtailHandler(source_token=TOKEN, host=url + "/",
                                           drop_extra_events=False)
        self.attach(self.handler)

    def flush(self) -> None:
        self.handler.flush()

    def close(self) -> None:
        self.handler.flush()
        self.logger.removeHandler(self.handler)
        self.handler.close()
