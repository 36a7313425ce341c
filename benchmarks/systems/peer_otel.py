"""OpenTelemetry SDK: LoggingHandler + BatchLogRecordProcessor + OTLP/HTTP protobuf exporter."""

from __future__ import annotations

import warnings
from typing import Any, Optional

from . import StdlibSystem


class OpenTelemetry(StdlibSystem):
    label = "OpenTelemetry SDK (OTLP/HTTP)"
    receiver = "otlp"
    setup_per_process = True
    notes = ("LoggingHandler + BatchLogRecordProcessor(max_queue_size=max(2048, burst)) + "
             "OTLPLogExporter to /v1/logs; its default queue (2048) drops bursts, measured apart")

    def __init__(self, default_queue: bool = False) -> None:
        super().__init__()
        self.default_queue = default_queue
        self.provider: Any = None

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        exporter = OTLPLogExporter(
            endpoint=url + "/v1/logs",
            compression=Compression.Gzip if gzip else Compression.NoCompression)
        queue: Optional[int] = None if self.default_queue else max(2048, burst)
        self.provider = LoggerProvider()
        self.provider.add_log_record_processor(
            BatchLogRecordProcessor(exporter, max_queue_size=queue))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's handler: still
            self.attach(LoggingHandler(logger_provider=self.provider))  # the documented one

    def flush(self) -> None:
        self.provider.force_flush()

    def close(self) -> None:
        self.provider.shutdown()
