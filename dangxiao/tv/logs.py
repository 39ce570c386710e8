"""Station keys kept out of the request logs.

A box that can only take a base URL sends its key in the path (``/tv/k/<key>/…``) or as
``?key=``; the server's request log (werkzeug's in development, gunicorn's access log in
production) would otherwise write every station's credential into files many people read.
A filter on those loggers rewrites the message before any handler sees it; nginx in front
needs the same in its ``log_format`` (the README's recipe shows it).
"""

from __future__ import annotations

import logging
import re

#: The loggers that write request lines (the filter is on the logger, so every handler gets the
#: redacted record).
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
MASK = "***"

_IN_PATH = re.compile(r"(/tv/k/)[^/\s?#\"]+")
_IN_QUERY = re.compile(r"([?&]key=)[^&\s#\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every station key in a ``/tv/k/`` prefix or a ``key=`` parameter masked."""
    if "/tv/k/" not in text and "key=" not in text.lower():
        return text
    return _IN_QUERY.sub(r"\1" + MASK, _IN_PATH.sub(r"\1" + MASK, text))


class RedactKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install() -> None:
    """Put the filter on the request loggers (once per process)."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())
