"""``FloodGate``: floods of one warning become one line per kind per window, no tracebacks."""

from __future__ import annotations

import io
import logging
import queue
import sys
import threading

import pytest

from tasklife.server.logs import FloodGate, _Lines, _Listener


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(
    message: str = "socket.accept() out of system resource\nsocket: <fd=9>",
    *,
    level: int = logging.ERROR,
    error: BaseException | None = None,
    name: str = "asyncio",
) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord(name, level, __file__, 1, message, None, exc_info)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(clock: Clock) -> FloodGate:
    return FloodGate(window=10.0, clock=clock)


class TestFloodGate:
    def test_one_line_per_kind_per_window(self, gate: FloodGate, clock: Clock) -> None:
        """1,000 records of one kind inside a window: one passes; the next window's says 999."""
        passed = [
            gate.filter(record(error=OSError(24, "Too many open files"))) for _ in range(1000)
        ]
        assert passed.count(True) == 1
        clock.now += 10.0
        later = record(error=OSError(24, "Too many open files"))
        assert gate.filter(later)
        assert "[999 more like this in the previous 10 s not logged]" in later.getMessage()

    def test_a_line_is_one_line_without_traceback(self, gate: FloodGate) -> None:
        """A connection error (an OSError) passes as one line with its type and message."""
        passed = record(error=ConnectionResetError(104, "reset"))
        assert gate.filter(passed)
        assert passed.getMessage() == (
            "socket.accept() out of system resource (ConnectionResetError: [Errno 104] reset)"
        )
        assert passed.exc_info is None

    def test_other_errors_keep_one_traceback(self, gate: FloodGate, clock: Clock) -> None:
        """An error that is not a connection's keeps its traceback the first time only."""
        first = record("Exception in ASGI application\n", error=ValueError("bug"))
        assert gate.filter(first)
        assert first.exc_info is not None
        clock.now += 60.0
        again = record("Exception in ASGI application\n", error=ValueError("bug"))
        assert gate.filter(again)
        assert again.exc_info is None

    def test_kinds_are_counted_apart(self, gate: FloodGate) -> None:
        """Different messages, loggers or exception types are different kinds."""
        kinds = [
            record(),
            record("Invalid HTTP request received.", level=logging.WARNING, name="uvicorn.error"),
            record(error=OSError(24, "Too many open files")),
            record(error=ValueError("Invalid file descriptor: -1")),
        ]
        assert all(gate.filter(r) for r in kinds)

    def test_info_always_passes(self, gate: FloodGate) -> None:
        """The access log (INFO) is never held back, however many lines share a template."""
        lines = [record("%s %s %d", level=logging.INFO, name="tasklife.server.access")] * 100
        assert all(gate.filter(r) for r in lines)

    def test_flush_tells_what_was_held_back(
        self, gate: FloodGate, caplog: pytest.LogCaptureFixture
    ) -> None:
        """flush() logs the count of each kind still held back, once."""
        for _ in range(5):
            gate.filter(record(error=OSError(24, "Too many open files")))
        logger = logging.getLogger("tasklife.test.flood")
        with caplog.at_level(logging.WARNING, logger.name):
            gate.flush(logger)
            gate.flush(logger)
        [line] = caplog.messages
        assert line == (
            "asyncio: 4 more like this were not logged: "
            "socket.accept() out of system resource (OSError)"
        )


class Counted(io.StringIO):
    """A stream that counts its writes and says when one happened."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.written = threading.Event()

    def write(self, text: str) -> int:
        self.writes += 1
        self.written.set()
        return super().write(text)


class TestBatchedLines:
    def test_a_queued_batch_is_one_write_and_stop_writes_everything(self) -> None:
        """Lines queued together go out in one write, in order; stopping writes what is left."""
        stream = Counted()
        lines = _Lines()
        lines.setStream(stream)
        messages: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        for n in range(100):
            messages.put(record(f"line {n}", level=logging.INFO))
        listener = _Listener(messages, lines)
        listener.start()
        listener.stop()
        assert stream.getvalue().splitlines() == [f"line {n}" for n in range(100)]
        assert stream.writes == 1

    def test_a_line_is_written_once_the_queue_runs_empty(self) -> None:
        """A running listener writes as soon as nothing more is waiting, not only at stop."""
        stream = Counted()
        lines = _Lines()
        lines.setStream(stream)
        messages: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        listener = _Listener(messages, lines)
        listener.start()
        try:
            messages.put(record("line 1", level=logging.INFO))
            assert stream.written.wait(timeout=30)
            assert stream.getvalue() == "line 1\n"
        finally:
            listener.stop()

    def test_lines_gather_while_the_listener_paces_and_stop_ends_the_pace(self) -> None:
        """After a write, the lines queued meanwhile wait for the pace and go out in one write;
        stopping does not wait the pace out."""
        stream = Counted()
        lines = _Lines()
        lines.setStream(stream)
        messages: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        listener = _Listener(messages, lines, pace=3600.0)
        listener.start()
        messages.put(record("line 0", level=logging.INFO))
        assert stream.written.wait(timeout=30)
        for n in range(1, 100):
            messages.put(record(f"line {n}", level=logging.INFO))
        listener.stop()
        assert stream.getvalue().splitlines() == [f"line {n}" for n in range(100)]
        assert stream.writes == 2
