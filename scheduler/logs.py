"""Log lines that hold no patient data, even when they carry an exception.

A database error's message quotes what it refused (PostgreSQL's `DETAIL: Key (phone)=(...)`), and
a validation error's quotes the input; in a traceback either would put a name or a number in the
log. The formatter keeps every frame and every exception's type, and withholds those messages.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

# Packages whose exception messages can quote the values of a statement or an input.
_QUOTING = ("sqlalchemy", "psycopg", "sqlite3", "pydantic", "pydantic_core")
# ... except these, which say what could not be reached, not what was written.
_CONNECTION = ("OperationalError", "InterfaceError", "DisconnectionError")
WITHHELD = "(message withheld: it can quote patient data)"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def withheld(exc: BaseException) -> bool:
    """Whether the message of `exc` may quote data and is kept out of logs."""
    module = type(exc).__module__.split(".")[0]
    return module in _QUOTING and type(exc).__name__ not in _CONNECTION


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what led to it, the first cause first (as Python prints them)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain[::-1]


def format_exception(exc: BaseException) -> str:
    """A traceback like Python's, with the messages that could quote data withheld."""
    parts: list[str] = []
    for n, link in enumerate(_chain(exc)):
        if n:
            parts.append("\nThe above exception led to the following one:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(link.__traceback__))
        if withheld(link):
            parts.append(f"{type(link).__module__}.{type(link).__qualname__}: {WITHHELD}\n")
        else:
            parts.extend(traceback.format_exception_only(type(link), link))
    return "".join(parts).rstrip("\n")


class SafeFormatter(logging.Formatter):
    def formatException(self, ei: ExcInfo) -> str:
        _type, exc, _tb = ei
        return super().formatException(ei) if exc is None else format_exception(exc)


def configure(level: int = logging.INFO) -> None:
    """Log to stderr through `SafeFormatter`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
