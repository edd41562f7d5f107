"""How `pyjobs serve` logs: one line per record on stderr, cheap enough to log every request."""

from __future__ import annotations

import logging
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class LineFormatter(logging.Formatter):
    """The standard line (local time with milliseconds), each second's text made only once."""

    def __init__(self) -> None:
        super().__init__(FORMAT)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """`2026-12-05 11:12:10,362`, as logging's default, from a per-second cache."""
        second, text = self._second  # one attribute: a thread never sees half an update
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(second))
            self._second = (second, text)
        return f"{text},{int(record.msecs):03d}"


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr at `level`, without working out what these lines never show."""
    # The logging HOWTO's optimisations: the caller's file and line, the thread and the
    # process are looked up for every record unless switched off, and nothing prints them.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(LineFormatter())
    logging.basicConfig(level=level, handlers=[handler])
