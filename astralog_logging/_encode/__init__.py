"""The caller's thread: a LogRecord becomes one protocol entry as bytes.

Everything here runs inside ``emit`` (or ``prepare``), in the application's thread, so it
imports nothing of the listener's and nothing of HTTP: the entry (``_entry``), the record's
fields (``_record``), value conversion (``_values``), secret redaction (``_redact``),
scrubbing to JSON types (``_sanitize``), cutting to size (``_truncate``) and exceptions
(``_exc``).
"""
