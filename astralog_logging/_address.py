"""Kept for handlers pickled by 0.1.0, which name ``astralog_logging._address.Address``;
the attach address lives in ``_ipc._address`` now."""

from ._ipc._address import Address

__all__ = ["Address"]
