"""The server's log: one line per request to stderr, and floods folded into one line per kind.

``tasklife serve`` logs through a queue: request handlers only queue their record and a
listener thread writes it, off the event loop. Warnings and errors pass through ``FloodGate``
first: a flood of aborted or malformed connections (or a process out of file descriptors)
makes asyncio and uvicorn log the same event thousands of times, each with a traceback, and
the log would drown what matters and fill the disk. The gate lets one line per kind of event
through per window and counts the rest into the next line of that kind.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import threading
import time
from collections.abc import Callable
from typing import Final

import attrs

__all__ = ["FloodGate", "log_to_stderr"]

_MAX_KINDS: Final = 1024
PACE: Final = 0.05
"""Seconds the log's writer thread lets lines gather after each write (see ``_Listener``)."""


@attrs.define
class _Kind:
    opened: float
    suppressed: int = 0


class FloodGate(logging.Filter):
    """Lets one record per kind of event through per ``window`` seconds, as one line.

    A kind is the logger, the first line of the message template and the exception's type.
    Records below ``level`` (the access log, start-up lines) always pass. A record that
    passes is folded into one line: the message's first line, the exception's type and
    message, and how many records of its kind were held back since the previous line. The
    traceback is kept only the first time a kind is seen, and never for an ``OSError`` (a
    reset, aborted or refused connection, no file descriptors left): those say nothing a line
    does not. ``flush()`` writes the counts still held back.
    """

    def __init__(
        self,
        *,
        window: float = 10.0,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._window = window
        self._level = level
        self._clock = clock
        self._kinds: dict[tuple[str, str, str], _Kind] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        """True for a record to write (rewritten as one line); False for one held back."""
        if record.levelno < self._level:
            return True
        error = record.exc_info[1] if record.exc_info else None
        kind = (record.name, str(record.msg).partition("\n")[0], type(error).__name__)
        now = self._clock()
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and now - seen.opened < self._window:
                seen.suppressed += 1
                return False
            held = 0 if seen is None else seen.suppressed
            if len(self._kinds) >= _MAX_KINDS:
                self._kinds.clear()
            self._kinds[kind] = _Kind(now)
            first = kind not in self._seen
            self._seen.add(kind)
        keep_traceback = first and error is not None and not isinstance(error, OSError)
        _fold(record, held, self._window, keep_traceback=keep_traceback)
        return True

    def flush(self, logger: logging.Logger) -> None:
        """Log, on ``logger``, how many records of each kind are still held back."""
        with self._lock:
            held = {kind: seen.suppressed for kind, seen in self._kinds.items() if seen.suppressed}
            for kind in held:
                self._kinds[kind].suppressed = 0
        for (name, message, error), count in held.items():
            about = f"{message} ({error})" if error != "NoneType" else message
            # Written whole (no arguments), so each kind's count is a kind of its own.
            logger.warning(f"{name}: {count} more like this were not logged: {about}")


def _fold(record: logging.LogRecord, held: int, window: float, *, keep_traceback: bool) -> None:
    """Rewrite ``record`` in place as one line (and its traceback when ``keep_traceback``)."""
    line = record.getMessage().partition("\n")[0]
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        line = f"{line} ({type(error).__name__}: {error})"
    if held:
        line = f"{line} [{held} more like this in the previous {window:g} s not logged]"
    record.msg, record.args = line, None
    if not keep_traceback:
        record.exc_info, record.exc_text, record.stack_info = None, None, None


class _Lines(logging.StreamHandler):  # type: ignore[type-arg]
    """Formats each record into a buffer; ``flush()`` writes the buffer in one write.

    One write (and one flush) per batch instead of per line: a line per request flushed on its
    own costs the listener thread a system call each, and the event loop the GIL it takes.
    """

    def __init__(self, most: int = 256) -> None:
        super().__init__()
        self._lines: list[str] = []
        self._most = most

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:  # logging's own policy: report it and go on
            self.handleError(record)
        if len(self._lines) >= self._most:
            self.flush()

    @property
    def holding(self) -> bool:
        """True while some formatted lines wait for ``flush()``."""
        return bool(self._lines)

    def flush(self) -> None:
        if self._lines:
            text = "\n".join(self._lines) + "\n"
            self._lines.clear()
            self.stream.write(text)
        super().flush()


class _Listener(logging.handlers.QueueListener):
    """A ``QueueListener`` that writes what it has whenever its queue runs empty, and on stop.

    Once it has written, it lets the next lines gather for ``pace`` seconds before it takes
    them: woken for every line, the thread would take the GIL from the event loop once per
    request (what that cost is in BENCHMARKS.md); so a busy server wakes it at most once per
    ``pace``, and a line waits at most that long for its write. A line after a quiet spell
    is written at once.
    """

    def __init__(
        self, messages: queue.SimpleQueue[logging.LogRecord], lines: _Lines, pace: float = PACE
    ) -> None:
        super().__init__(messages, lines)
        self._messages = messages
        self._out = lines
        self._pace = pace
        self._stopping = threading.Event()

    def dequeue(self, block: bool) -> logging.LogRecord:
        if block:
            try:
                record = self._messages.get_nowait()
            except queue.Empty:  # nothing more queued: write the batch before sleeping
                if self._out.holding:
                    self._out.flush()
                    self._stopping.wait(self._pace)  # the next lines gather meanwhile
            else:
                return record
        return super().dequeue(block)

    def stop(self) -> None:
        self._stopping.set()  # no more pacing: take what is queued, then the end
        super().stop()
        self._out.flush()


class _Queued(logging.handlers.QueueHandler):
    """Queues the record itself: the listener runs in this process, so nothing is pickled and
    the formatting happens in its thread, not in the request's."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def log_to_stderr(gate: FloodGate) -> logging.handlers.QueueListener:
    """Log INFO and up to stderr from a background thread, through ``gate``.

    Request handlers only queue their record; the formatting and writing happen in the
    listener's thread, off the event loop, one write per batch of lines (what writing inline
    cost is in BENCHMARKS.md). Stop the listener to write what is still queued.
    """
    lines = _Lines()
    lines.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    messages: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = _Listener(messages, lines)
    handler = _Queued(messages)
    handler.addFilter(gate)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    listener.start()
    return listener
