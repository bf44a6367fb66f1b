"""``Writer``: runs the service's work in shared transactions, one batch at a time.

Group commit. Every use case of ``TaskService`` is a *work*: a function of a store transaction.
The writer takes the works waiting for it (up to ``batch``) and runs them one after the other
in one transaction of the store, then commits once, and only then answers their callers, so an
acknowledged change is durable like one committed alone; what a batch saves is the commit's
fixed cost (and on SQLite the write lock, taken once per batch instead of once per request).

A work that fails must not fail the others. A work raises either *before it wrote anything*
(the exceptions listed in ``clean``: a refusal of the domain, a task that is not there, a bad
argument; the service's works only write after every check passed) and then the batch carries
on without it, or with anything else (a ``StoreConflict``, a database error), and then the
whole batch is rolled back: that work gets its exception (a conflict is tried again, up to
``attempts`` times, then ``TooManyConflicts``), and every other work of the batch is run again
in a new batch, from a fresh read (works are functions of the transaction: running one again
is safe). Only a failing commit fails every work of its batch (nothing of it was written).

Batches run on the writer's thread (``submit``), or in the calling thread (``run_now``: an
event loop that gathered the requests it read, where a thread handoff would cost more than
the database); either way one batch at a time, so the service may keep the tasks it wrote in
memory (see ``TaskService``): only the batch running changes them.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

import attrs

from tasklife.service.tables import SQLStore
from tasklife.store import StoreConflict, TooManyConflicts
from tasklife.store.drivers import SQLTransaction

__all__ = ["DEFAULT_BATCH", "Writer"]

T = TypeVar("T")
DEFAULT_BATCH: Final = 64
"""The most works one transaction runs."""

log = logging.getLogger("tasklife.service")


@attrs.define(eq=False)
class _Work(Generic[T]):
    run: Callable[[SQLTransaction], T]
    key: str | None = None
    future: concurrent.futures.Future[T] = attrs.Factory(concurrent.futures.Future)
    attempts: int = 0


@attrs.define(eq=False, repr=False)
class Writer:
    """Runs works in batches, one transaction per batch, on a thread of its own.

    ``on_rollback()`` is called whenever a batch was rolled back, so a cache can forget what
    was changed in memory. ``clean``: the exceptions works raise only before writing.
    ``prepare(tx, keys)`` runs first in each batch's transaction with the sorted keys the
    batch's works were submitted with: a service locks their rows there, in one order for
    every replica, so two replicas' batches never wait for each other in a cycle (deadlock).
    """

    _store: SQLStore
    _attempts: int = attrs.field(kw_only=True)
    _batch: int = attrs.field(default=DEFAULT_BATCH, kw_only=True)
    _on_rollback: Callable[[], None] | None = attrs.field(default=None, kw_only=True)
    _prepare: Callable[[SQLTransaction, list[str]], None] | None = attrs.field(
        default=None, kw_only=True
    )
    _clean: tuple[type[Exception], ...] = attrs.field(default=(), kw_only=True)
    _queue: queue.SimpleQueue[_Work[Any] | None] = attrs.field(
        init=False, factory=queue.SimpleQueue
    )
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _thread: threading.Thread | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)
    # one batch at a time, whichever thread runs it
    _batching: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def submit(
        self, run: Callable[[SQLTransaction], T], key: str | None = None
    ) -> concurrent.futures.Future[T]:
        """Queue ``run`` (about the row ``key``, if it is about one) for the writer thread; its
        future holds what it returns once its transaction committed."""
        work: _Work[T] = _Work(run, key)
        self._put(work)
        return work.future

    def run_now(
        self, runs: list[tuple[Callable[[SQLTransaction], Any], str | None]]
    ) -> list[concurrent.futures.Future[Any]]:
        """Run ``runs`` as batches in the calling thread (an event loop's, where the database
        answers faster than a thread handoff costs); their futures. A work that must run again
        (see the module) is handed to the writer thread, so its future may not be done yet."""
        works = [_Work(run, key) for run, key in runs]
        for start in range(0, len(works), self._batch):
            with self._batching:
                self._run_batch(works[start : start + self._batch])
        return [work.future for work in works]

    def _put(self, work: _Work[Any]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the service is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="tasklife-writer", daemon=True
                )
                self._thread.start()
            self._queue.put(work)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued works, then stop the thread (idempotent)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    # the thread -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            works = [first]
            stop = False
            while len(works) < self._batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                works.append(more)
            with self._batching:
                self._run_batch(works)
            if stop:
                return

    def _run_batch(self, works: list[_Work[Any]]) -> None:
        done: list[tuple[_Work[Any], bool, Any]] = []
        try:
            with self._store.transaction() as tx:
                keys = sorted({work.key for work in works if work.key is not None})
                if keys and self._prepare is not None:
                    self._prepare(tx, keys)
                for work in works:
                    work.attempts += 1
                    try:
                        done.append((work, True, work.run(tx)))
                    except self._clean as refused:  # raised before the work wrote anything
                        done.append((work, False, refused))
                    except Exception as error:
                        raise _Unclean(work, error) from error
        except _Unclean as unclean:
            self._forget()
            self._settle(unclean.work, unclean.error)
            ran = works[: works.index(unclean.work)]
            for work in works:
                if work is not unclean.work:
                    if work in ran:
                        work.attempts -= 1  # not its fault: it counts as not tried
                    self._put(work)
            return
        except BaseException as error:  # the commit failed: no work of the batch was written
            self._forget()
            for work in works:
                if not work.future.done():
                    work.future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for work, succeeded, value in done:
            if succeeded:
                work.future.set_result(value)
            else:
                work.future.set_exception(value)

    def _settle(self, work: _Work[Any], error: Exception) -> None:
        """Answer a work whose exception rolled its batch back (a conflict runs again)."""
        if isinstance(error, StoreConflict) and work.attempts < self._attempts:
            self._put(work)  # again, in a later batch, from a fresh read
        elif isinstance(error, StoreConflict):
            lost = TooManyConflicts(error.task_id, error.expected, error.actual, work.attempts)
            work.future.set_exception(lost)
        else:
            work.future.set_exception(error)

    def _forget(self) -> None:
        if self._on_rollback is not None:
            self._on_rollback()


class _Unclean(Exception):
    """A work raised something that may have followed a write: the batch must roll back."""

    def __init__(self, work: _Work[Any], error: Exception) -> None:
        super().__init__(str(error))
        self.work = work
        self.error = error
