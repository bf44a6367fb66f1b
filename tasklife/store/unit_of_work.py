"""``transact``: load a task, act on it, save it, and retry when another writer got there first.

>>> from tasklife import Task
>>> from tasklife.store import SQLiteTaskStore, transact
>>> with SQLiteTaskStore(":memory:") as store:
...     with store.transaction() as tx:
...         _ = tx.add(Task("task_1"))
...     outcome = transact(store, "task_1", lambda task: task.start())
...     outcome.result, outcome.changed, outcome.loaded.token, outcome.loaded.task.status.value
(True, True, 2, 'running')

Given a store, each attempt is one transaction of the store's own: load, ``act``, save (only if
``act`` changed the task), commit. A ``StoreConflict`` (another writer saved the task between
this attempt's load and save) rolls the attempt back and starts a fresh one, up to
``attempts`` in all; then ``TooManyConflicts``. ``act`` may therefore run more than once, each
time on a freshly loaded task: let it act on the task and nothing else.

``retried`` / ``async_retried`` are the same retry around any work of the caller's: each attempt
runs ``work(tx)`` in a fresh transaction of the store, so a backend that writes its own rows
beside a task (through ``transact(tx, ...)`` and ``tx.run_flow``) retries them together.

Given a transaction instead (``store.transaction()``, or an adapter's ``join`` of the caller's
own connection), there is one attempt and no retry: a ``StoreConflict`` means the caller's
whole transaction is stale, so it is the caller's transaction that must be rolled back and run
again, and the conflict is raised for that.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Final, Generic, Protocol, TypedDict, TypeVar, Unpack, cast

import attrs

from tasklife.errors import check_options, positive_int
from tasklife.store.errors import StoreConflict, TooManyConflicts
from tasklife.store.port import (
    AsyncTaskStore,
    AsyncTransaction,
    Loaded,
    Outcome,
    TaskStore,
    Transaction,
)
from tasklife.task import Task

__all__ = [
    "DEFAULT_ATTEMPTS",
    "TransactOptions",
    "async_retried",
    "async_transact",
    "retried",
    "transact",
]

T = TypeVar("T")
Tx_co = TypeVar("Tx_co", covariant=True)
DEFAULT_ATTEMPTS: Final = 8
"""How many times ``transact`` loads and tries by default before ``TooManyConflicts``."""


class TransactOptions(TypedDict, total=False):
    """The options of ``transact`` and ``async_transact``.

    ``attempts``: how many times to load and try before ``TooManyConflicts`` (default
    ``DEFAULT_ATTEMPTS``; one, whatever is asked, given a transaction). ``loaded``: the task as
    the caller already holds it (a cache's copy, say), used for the first attempt instead of a
    load; ``act`` then changes the caller's ``Task`` itself. A stale one is caught by the save's
    token check (the next attempt loads afresh).
    """

    attempts: int
    loaded: Loaded | None


def transact(
    target: TaskStore | Transaction,
    task_id: str,
    act: Callable[[Task], T],
    **options: Unpack[TransactOptions],
) -> Outcome[T]:
    """Load ``task_id``, call ``act(task)``, save what it changed; retried on conflict.

    Returns an ``Outcome``: ``act``'s result, whether anything was written, the task as stored
    afterwards. Raises what ``act`` raises (nothing is written), ``TaskNotStored``, and
    ``TooManyConflicts`` after ``attempts`` lost races (``StoreConflict`` at once when
    ``target`` is a transaction: see the module).

    ``options`` (``TransactOptions``): ``attempts`` and ``loaded``; an unknown one raises
    ``InvalidArgument``.
    """
    attempts, each = _attempts(task_id, act, options)
    if not _is_store(target):
        return _once(cast("Transaction", target), next(each))
    return retried(cast("TaskStore", target), lambda tx: _once(tx, next(each)), attempts=attempts)


async def async_transact(
    target: AsyncTaskStore | AsyncTransaction,
    task_id: str,
    act: Callable[[Task], T],
    **options: Unpack[TransactOptions],
) -> Outcome[T]:
    """``transact`` for an ``AsyncTaskStore`` or an ``AsyncTransaction``."""
    attempts, each = _attempts(task_id, act, options)
    if not _is_store(target):
        return await _async_once(cast("AsyncTransaction", target), next(each))
    store = cast("AsyncTaskStore", target)
    return await async_retried(store, lambda tx: _async_once(tx, next(each)), attempts=attempts)


class Transactional(Protocol[Tx_co]):
    """Whatever opens transactions of type ``Tx_co``: a ``TaskStore`` (of any adapter)."""

    def transaction(self) -> AbstractContextManager[Tx_co]:
        """A transaction of the store's own."""


class AsyncTransactional(Protocol[Tx_co]):
    """Whatever opens async transactions of type ``Tx_co``: an ``AsyncTaskStore``."""

    def transaction(self) -> AbstractAsyncContextManager[Tx_co]:
        """A transaction of the store's own."""


def retried(
    store: Transactional[Tx_co], work: Callable[[Tx_co], T], *, attempts: int = DEFAULT_ATTEMPTS
) -> T:
    """``work(tx)`` in a transaction of ``store``, run again in a fresh one on ``StoreConflict``.

    Returns what ``work`` returns once its transaction committed; raises what it raises (its
    transaction rolled back), and ``TooManyConflicts`` after ``attempts`` lost races.
    """
    retry = _Retry(attempts)
    while True:
        retry.next()
        try:
            with store.transaction() as tx:
                return work(tx)
        except StoreConflict as conflict:
            retry.lost(conflict)


async def async_retried(
    store: AsyncTransactional[Tx_co],
    work: Callable[[Tx_co], Awaitable[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> T:
    """``retried`` for an ``AsyncTaskStore`` and an async ``work``."""
    retry = _Retry(attempts)
    while True:
        retry.next()
        try:
            async with store.transaction() as tx:
                return await work(tx)
        except StoreConflict as conflict:
            retry.lost(conflict)


@attrs.frozen
class _Attempt(Generic[T]):
    """One attempt of ``transact``: its number, and the task as the caller holds it (the first
    attempt only; None: load it)."""

    task_id: str
    act: Callable[[Task], T]
    number: int
    held: Loaded | None


def _attempts(
    task_id: str, act: Callable[[Task], T], options: TransactOptions
) -> tuple[int, Iterator[_Attempt[T]]]:
    """``attempts`` from ``options`` (checked before anything is read), and the attempts."""
    check_options(options, TransactOptions.__annotations__, "transact()")
    attempts = positive_int("attempts", options.get("attempts", DEFAULT_ATTEMPTS))
    first = _Attempt(task_id, act, 1, options.get("loaded"))
    more = (_Attempt(task_id, act, n, None) for n in itertools.count(2))
    return attempts, itertools.chain([first], more)


def _is_store(target: object) -> bool:
    """A store opens transactions; a transaction does not (cheaper than a Protocol check)."""
    return callable(getattr(target, "transaction", None))


def _once(tx: Transaction, attempt: _Attempt[T]) -> Outcome[T]:
    loaded = tx.load(attempt.task_id) if attempt.held is None else attempt.held
    result = attempt.act(loaded.task)
    if not loaded.changed:
        return Outcome(result, False, loaded, attempt.number)
    return Outcome(result, True, tx.save(loaded), attempt.number)


async def _async_once(tx: AsyncTransaction, attempt: _Attempt[T]) -> Outcome[T]:
    loaded = await tx.load(attempt.task_id) if attempt.held is None else attempt.held
    result = attempt.act(loaded.task)
    if not loaded.changed:
        return Outcome(result, False, loaded, attempt.number)
    return Outcome(result, True, await tx.save(loaded), attempt.number)


class _Retry:
    """The retry decisions, shared by both faces: count attempts, give up after the last."""

    def __init__(self, attempts: int) -> None:
        self._limit = positive_int("attempts", attempts)
        self._made = 0

    def next(self) -> int:
        """The number of the attempt about to be made."""
        self._made += 1
        return self._made

    def lost(self, conflict: StoreConflict) -> None:
        """An attempt lost to another writer: return to try again, or raise after the last."""
        if self._made >= self._limit:
            raise TooManyConflicts(
                conflict.task_id, conflict.expected, conflict.actual, self._made
            ) from conflict
