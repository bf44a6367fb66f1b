"""The hand-written parts of BENCHMARKS.md: the performance work log and why each miss happens.

These are records of what was profiled and changed, with the figures measured at the time (the
"before" of a change cannot be re-measured once it is in); the tables above them in
BENCHMARKS.md are measured afresh by every run.
"""

from __future__ import annotations

__all__ = ["MISSES", "PERF_CHANGES", "PERF_INTRO", "PERF_OUTRO"]

PERF_INTRO = """\
Baseline: the core as first written (commit `9a58e55`), measured with this harness
(`python -m bench`, full mode, same machine): op 20.11 µs, `from_dict` 6.97 µs, `to_dict`
3.83 µs, bare action 7.38 µs, 3.35x faster than a per-task `transitions.Machine`, 10.80x faster
than python-statemachine; 1M started tasks 586 MB of RSS gained, built in 11.7 s.

Profiles: `cProfile` over 50,000 ops (`from_dict` + `resume()` + `to_dict()`) and over 200,000
`pause()`/`resume()` pairs; `tracemalloc` and RSS for memory; `py-spy record` on `tasklife serve`
under the 50-client load. Each change below is its own commit; figures are `timeit` minimums
(before -> after) taken when the change was made.
"""

PERF_CHANGES: tuple[tuple[str, str, str, str], ...] = (
    (
        "`5f5a906`",
        "`transitions`' `Transition.execute` was 5.8 µs of each action: ~6 debug/info log calls "
        "per transition (arguments built eagerly, e.g. `State.name` recomputing an Enum name "
        "each time), 4 `get_state` look-ups, `itertools.chain` per callback list",
        "the one shared machine gets a `State` class with plain `name`/`value` attributes and a "
        "`Transition` class whose `execute` runs the same steps in the same order (prepare, "
        "conditions, before, exit, state change, enter, after; `on_final`) without the per-step "
        "logging and look-ups",
        "machine per transition 5.82 -> 2.29 µs; bare action 7.35 -> 3.91 µs; op 19.7 -> 16.0 µs",
    ),
    (
        "`8d2c219`",
        "`from_dict` spent its 7 µs in per-field helpers (`_field` builds an f-string path on "
        "every call, `_enum`, `_timestamp`, `Mapping` ABC checks) and a second pass for the "
        "chain check",
        "a fast path for a plain dict as `to_dict` writes it: one pass, `type(x) is` checks, "
        "chained as it goes; at the first doubt it returns None and the unchanged full path "
        "validates and raises. Checked: 30,000 mutated dicts give identical outcomes (task, or "
        "error type and message) via `dict` (fast) and `MappingProxyType` (full path)",
        "`from_dict` 7.0 -> 3.0 µs; op 16.0 -> 12.0 µs",
    ),
    (
        "`d232b98`",
        "`Enum.value` is a Python-level descriptor, called 3 times per record in `to_dict`",
        "read `_value_` (the member's plain `str`)",
        "`to_dict` 3.75 -> 3.04 µs; op 12.0 -> 11.3 µs",
    ),
    (
        "`28ee034`",
        "`apply()` coerced an `Action` member through `_enum()`; `_now()` called `utcoffset()` "
        "twice on the default clock's UTC datetime",
        "type-identity fast paths, the old checks behind them",
        "bare action 3.95 -> 3.58 µs",
    ),
    (
        "`a4cdf5a`",
        "per record, the fast path still did 3 enum look-ups, a table look-up and a "
        "`typing.cast` call",
        "one `(source, action, dest)` -> members look-up per record",
        "`from_dict` 3.0 -> 2.8 µs; op 11.1 -> 10.5 µs",
    ),
    (
        "`40b0bac`",
        "`tracemalloc`: a started task's history list reserved 4 slots for 1 record (88 B)",
        "the first record goes into an exact-size list (64 B)",
        "1M started tasks: RSS gained 586 -> 569 MB; build 8.1 -> 7.8 s",
    ),
    (
        "`caaddab`",
        "`Machine.set_state` re-checked the `State` type and listified the one model",
        "set the model's attribute directly (what `set_state` does for one model)",
        "`resume()` 3.49 -> 3.25 µs; op 10.4 -> 10.0 µs",
    ),
)

PERF_OUTRO = """\
Tried and dropped (no measurable gain): inlining `TransitionRecord.to_dict` into `Task.to_dict`;
replacing `typing.cast` in the machine's callbacks; iterating callback lists without building a
tuple; building records through slot descriptors instead of attrs' `__init__` (0.41 -> 0.34 µs,
not worth a second constructor).

Not done, because they would change the public API or behaviour (the remit was performance
only): caching each record's ISO timestamp on the record (a new field); dropping validation in
`from_dict`; going around the shared machine; dropping the per-task lock or the weakref slots.
"""

_OP = """\
**Domain op median.** The machine of the 2026-11-29 evening runs is slower across the board
than that of the 03:17 run (10.80 µs per op then): at 20:45 a per-task `transitions.Machine`
took 157.3 µs per op against 65.2 µs (at 18:19, 105.6 µs and 16.90 µs for tasklife), so compare
the ratios, which held (6.38x, 21.4x, 6.6x the dict floor; 6.25x, 22.1x, 7.2x at 18:19). What
is left, per op (timeit, on the 03:17 machine): `from_dict` 2.7 µs (type
checks of 7 fields and 2 records, 3 `datetime.fromisoformat`, 2 frozen `TransitionRecord`s at
0.4 µs each), `resume()` 3.2 µs (the machine's `EventData`, condition and after-callback, a new
record, the clock), `to_dict()` 3.9 µs, of which 2.5 µs is `datetime.isoformat()` (0.62 µs per
aware datetime: `created_at` and 3 records). After the changes in the log the profile is flat:
no function above 14% of the op (the largest is attrs' `TransitionRecord.__init__`). The rest is
the public shape: validated rehydration, frozen attrs records with aware datetimes, ISO strings
on every `to_dict()`, every action through the shared `transitions` machine."""

_SM = """\
**vs python-statemachine.** This ratio is the op median's mirror (python-statemachine takes
about 210 µs per op here); it sits at about 20x and lands either side of the line from run to run
with the tasklife median (see above)."""

_RSS = """\
**1M live tasks, RSS.** Per started task (`tracemalloc` and `sys.getsizeof`): the `Task` object
104 B (8 slots, `__weakref__`, GC header), its `threading.RLock` 112 B of RSS (a 48 B object plus
a separately malloc'd semaphore), `created_at` 48 B, the history list 64 B, the
`TransitionRecord` 96 B and its datetime 48 B, the id string ~64 B, the benchmark's list slot 8 B:
about 545 B, plus allocator overhead. Reaching 500 MB needs about 70 B less per task; the only
item that large is the per-task lock, which is how the core is thread-safe without a global lock
(the weakref slots, 16 B, and the datetimes are public behaviour). Build time is within target."""

_SERVER = """\
**Server throughput.** 0.45x in the run of 2026-11-29 20:44 (0.43x at 18:35), on a machine
slower this evening: every setup's absolute figures, the unchanged bare app's included, are
about half those of 18:35, so compare the ratios. Per pause/resume the event loop spent
~1,100 µs of CPU against the bare app's ~440 µs at 18:35. `py-spy` on the server under this
load (and the CPU time of each of its threads) showed: uvicorn's h11 and FastAPI's middleware,
routing and parameter solving about half of the loop's time (routing through two included
routers and the parameter solving alone about a third), the service (the five statements, the
commit, the flows that build them, the core's transition) about a third, and the access log's
writer thread, woken for every line, ~75 µs of its own CPU per request plus the GIL it took
from the loop each time. Two changes, each measured interleaved with the bare app (the
choices under the server's table): the writer thread paced (lines gather for 0.05 s between
writes; 0.42x -> 0.50x in that run), and the endpoints on the app's own router (~25 µs per
request). A third change measured 0.38x -> 0.60x: answering `PUT pause/resume/stop-task` with
a plain `task_id` in an ASGI layer before FastAPI's routing. It was taken out again: it is a
second dispatch path for exactly the requests this benchmark sends, while the bare app it is
compared with routes them through FastAPI, so the ratio would no longer measure tasklife's
cost over the same framework. What is left: FastAPI's parameter solving and middleware stack
per request, and the service, ~300 µs per action in a loop without HTTP, a third of it SQLite
(five statements and the commit). The next lever is the statements: one multi-row statement
per table per batch instead of one per request (it changes how a failing work of a batch is
attributed and when its rows are visible inside the batch, so it needs the replica tests'
exactly-once checks to be extended first). Three replicas on one SQLite file stay lower
(0.37x: they share the write lock and the 2 cores); PostgreSQL is unchanged (0.21x)."""

_ASYNC = """\
**Async transport, 1,000 concurrent.** `py-spy` on the benchmark process (3 rounds): 82% of
its samples are inside `httpx.AsyncClient.send`, 60% in httpcore's `AsyncConnectionPool`
(`_assign_requests_to_connections` scanning every connection's `has_expired`/`is_idle` socket
checks on each request event, with 900 requests waiting for 100 connections); the adapter's
own code (`AsyncBrowserUseTransport._call`/`_send`/`_json`, id quoting, JSON decoding) is 0.2%.
The sync comparison, where the pool is not contended, shows the adapter at or below the bare
client's cost. With the client CPU-bound in pool bookkeeping, batches swing 2.0-5.1 s even
between two identical bare clients, so a ratio from a handful of batches is mostly that noise;
the transport does the same requests through the same httpx calls (`build_request`, `send`
with `stream=True`, `aread`, `aclose`)."""

_STORE = """\
**store: transact on PostgreSQL vs psycopg floor.** Profiled (cProfile, process CPU time, 300
transitions each, one worker): the unit of work spent 1.75-1.92 ms of client CPU per transition
against the floor's 1.67-1.78 ms, the extra being `Task.from_dict` of the loaded history and
`to_dict` + JSON of the save; the rest is psycopg's own. At 8 workers on 2 cores the client,
the PostgreSQL backends and (during the recorded run) other work share the CPU, so the ratio
follows client CPU per transition; the batches swing widely run to run (see the spread). Two
levers were measured and kept: the save is one statement (update, records and feed entries),
and `NOTIFY` is sent after the commit: inside the transaction it held PostgreSQL's notify lock
across the commit's WAL flush and serialised the writers (0.48x the floor at 8 workers, 0.79x
once moved). psycopg's pipeline mode was measured and dropped: it cost more client CPU than the
round trips it saved."""

MISSES: dict[str, str] = {
    "store: transact on PostgreSQL vs psycopg floor, 1 worker(s)": _STORE,
    "store: transact on PostgreSQL vs psycopg floor, 8 worker(s)": _STORE,
    "async transport vs bare httpx.AsyncClient (1,000 concurrent)": _ASYNC,
    "domain op, tasklife median": _OP,
    "domain op vs python-statemachine": _SM,
    "1M live tasks, RSS gained": _RSS,
    "server throughput vs bare FastAPI (50 clients, SQLite)": _SERVER,
}
"""Why a target is missed, keyed by the verdict's name (shown only when that target is missed)."""
