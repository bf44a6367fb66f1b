"""Observations: a remote status seen at a time, applied to a task (``Task.observe``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import REFERENCE_TABLE, T0, ticking_clock

from tasklife import (
    DEFAULT_SKEW,
    LIFECYCLE,
    InvalidArgument,
    InvalidTaskData,
    Observation,
    ObservationOutcome,
    ReconcileConflict,
    Task,
    TaskStatus,
)

S = TaskStatus
O = ObservationOutcome  # noqa: E741 - a short name for the outcomes in tables
SECOND = timedelta(seconds=1)


def seen(
    status: S | str, seconds: float, ref: str | None = None, steps: int | None = None
) -> Observation:
    """An observation of ``status`` at ``seconds`` after T0 on the remote's clock."""
    return Observation(status, T0 + timedelta(seconds=seconds), ref=ref, steps=steps)


def clock_at(seconds: list[float]) -> Task:
    """A task whose clock reads T0 + each of ``seconds`` in turn (the first for created_at),
    then stays at the last one."""
    readings = iter(seconds)
    return Task("task_1", clock=lambda: T0 + timedelta(seconds=next(readings, seconds[-1])))


class TestObservation:
    def test_a_string_status_is_converted(self) -> None:
        """Observation('paused', ...) holds TaskStatus.PAUSED and a UTC time."""
        at = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
        observation = Observation("paused", at)
        assert observation.status is S.PAUSED
        assert observation.at == T0
        assert observation.at.tzinfo is UTC

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"status": "sleeping"}, "status"),
            ({"at": datetime(2026, 1, 1)}, "at"),
            ({"at": "2026-01-01T00:00:00+00:00"}, "at"),
            ({"ref": ""}, "ref"),
            ({"ref": "x" * 257}, "ref"),
            ({"ref": "a\nb"}, "ref"),
            ({"ref": 5}, "ref"),
            ({"steps": -1}, "steps"),
            ({"steps": True}, "steps"),
            ({"steps": 10**4400}, "steps"),
            ({"status": "created", "steps": 3}, "steps"),
        ],
        ids=["status", "naive", "string-at", "empty-ref", "long-ref", "control-ref", "int-ref",
             "negative-steps", "bool-steps", "huge-steps", "created-with-steps"],
    )  # fmt: skip
    def test_bad_values_name_the_field(self, kwargs: dict[str, object], field: str) -> None:
        """Each bad value raises InvalidTaskData naming its field."""
        values: dict[str, object] = {"status": "running", "at": T0, **kwargs}
        with pytest.raises(InvalidTaskData) as caught:
            Observation(**values)  # type: ignore[arg-type]
        assert caught.value.field == field


class TestForward:
    def test_created_to_running_is_applied_as_seen(self) -> None:
        """The record is the remote's, not inferred, with the remote's time and the ref."""
        task = Task("task_1", clock=ticking_clock())
        result = task.observe(seen(S.RUNNING, 30, ref="evt_1"))
        assert result.outcome is O.APPLIED
        assert result.conflict is None
        (record,) = result.records
        assert record == task.history[-1]
        assert (record.action, record.origin, record.inferred) == ("start", "remote", False)
        assert (record.remote_at, record.ref) == (T0 + 30 * SECOND, "evt_1")

    def test_skipped_statuses_are_inferred(self) -> None:
        """created → finished records an inferred start, then the finish as seen."""
        task = Task("task_1", clock=ticking_clock())
        result = task.observe(seen(S.FINISHED, 30, ref="evt_9"))
        assert [(r.action.value, r.inferred, r.ref) for r in result.records] == [
            ("start", True, None),
            ("finish", False, "evt_9"),
        ]
        assert result.records[0].remote_at is None
        assert task.status is S.FINISHED

    def test_steps_mean_the_task_ran(self) -> None:
        """A stop seen with steps on a created task goes through an inferred start."""
        task = Task("task_1", clock=ticking_clock())
        result = task.observe(seen(S.STOPPED, 30, steps=4))
        assert [(r.action.value, r.inferred) for r in result.records] == [
            ("start", True),
            ("stop", False),
        ]
        assert task.steps == 4

    def test_terminal_from_paused_is_forward(self) -> None:
        """paused → finished is applied whatever its time: resume inferred, finish seen."""
        task = Task("task_1", clock=ticking_clock())
        task.observe(seen(S.PAUSED, 30))
        result = task.observe(seen(S.FINISHED, 1))
        assert [(r.action.value, r.inferred) for r in result.records] == [
            ("resume", True),
            ("finish", False),
        ]


class TestDuplicate:
    def test_same_ref_is_a_duplicate(self) -> None:
        """An observation whose ref is in the history changes nothing, whatever it says."""
        task = Task("task_1", clock=ticking_clock())
        task.observe(seen(S.RUNNING, 30, ref="evt_1"))
        before = task.to_dict()
        assert task.observe(seen(S.FAILED, 40, ref="evt_1")).outcome is O.DUPLICATE
        assert task.to_dict() == before

    def test_same_status_is_a_duplicate(self) -> None:
        """A status the task is in now is a duplicate."""
        task = Task("task_1", clock=ticking_clock())
        task.observe(seen(S.RUNNING, 30))
        before = task.to_dict()
        result = task.observe(seen(S.RUNNING, 90))
        assert (result.outcome, result.records) == (O.DUPLICATE, ())
        assert task.to_dict() == before

    def test_same_status_with_more_steps_raises_the_count(self) -> None:
        """The same status with a higher step count is applied, with no record."""
        task = Task("task_1", clock=ticking_clock())
        task.observe(seen(S.RUNNING, 30, steps=2))
        result = task.observe(seen(S.RUNNING, 40, steps=9))
        assert (result.outcome, result.records, task.steps, task.version) == (O.APPLIED, (), 9, 1)

    def test_a_status_reached_later_is_a_duplicate(self) -> None:
        """paused seen at 30 on a task that reached paused at 50 (then resumed) changes nothing."""
        task = Task("task_1", clock=ticking_clock())
        task.observe(seen(S.RUNNING, 10))
        task.observe(seen(S.PAUSED, 50))
        task.resume()
        before = task.to_dict()
        assert task.observe(seen(S.PAUSED, 30)).outcome is O.DUPLICATE
        assert task.to_dict() == before

    def test_the_same_observation_twice_changes_nothing(self) -> None:
        """The second application of an observation (no ref) is not applied."""
        task = Task("task_1", clock=ticking_clock())
        observation = seen(S.PAUSED, 30, steps=3)
        assert task.observe(observation).outcome is O.APPLIED
        before = task.to_dict()
        assert task.observe(observation).outcome is O.DUPLICATE
        assert task.to_dict() == before


class TestStale:
    def test_late_pause_after_a_later_local_resume_is_stale(self) -> None:
        """Issue 13: a late "paused" arriving after a later local resume records no new pause."""
        # Local clock: created at 0, start seen at 1, local pause at 10, local resume at 20.
        task = clock_at([0, 1, 10, 20])
        task.observe(seen(S.RUNNING, 1))
        task.pause()
        task.resume()
        before = task.to_dict()
        # The remote's webhook for the pause, dated on its clock just after the local pause.
        result = task.observe(seen(S.PAUSED, 10.3, ref="evt_pause"))
        assert (result.outcome, result.records) == (O.STALE, ())
        assert task.to_dict() == before
        assert task.status is S.RUNNING

    def test_sideways_newer_than_skew_is_applied(self) -> None:
        """A pause seen more than the skew after the latest change is the remote's pause."""
        task = clock_at([0, 1, 10])
        task.observe(seen(S.RUNNING, 1))
        task.pause()
        result = task.observe(seen(S.RUNNING, 11.5, ref="evt_resume"))
        assert result.outcome is O.APPLIED
        assert [(r.action.value, r.inferred, r.ref) for r in result.records] == [
            ("resume", False, "evt_resume")
        ]

    @pytest.mark.parametrize(
        ("seconds", "skew", "outcome"),
        [(10.9, DEFAULT_SKEW, O.STALE), (11.0, DEFAULT_SKEW, O.STALE),
         (11.1, DEFAULT_SKEW, O.APPLIED), (10.1, timedelta(0), O.APPLIED),
         (14.0, timedelta(seconds=5), O.STALE)],
        ids=["within", "at-the-bound", "beyond", "no-skew", "wider-skew"],
    )  # fmt: skip
    def test_the_skew_allowance(self, seconds: float, skew: timedelta, outcome: O) -> None:
        """Sideways moves must be newer than the latest change (local pause at 10) + skew."""
        task = clock_at([0, 1, 10])
        task.observe(seen(S.RUNNING, 1))
        task.pause()
        assert task.observe(seen(S.RUNNING, seconds), skew=skew).outcome is outcome

    def test_an_observed_record_counts_at_the_remote_time(self) -> None:
        """The latest change of a record applied from an observation is its remote_at."""
        task = clock_at([0, 500])  # the receiver's clock is far ahead of the remote's
        task.observe(seen(S.RUNNING, 10))
        task.observe(seen(S.PAUSED, 20))
        assert task.observe(seen(S.RUNNING, 19.5)).outcome is O.STALE
        assert task.observe(seen(S.RUNNING, 22)).outcome is O.APPLIED

    def test_inferred_records_do_not_hold_back_later_observations(self) -> None:
        """An inferred record's commit time (here far ahead) is not a change the remote made."""
        task = clock_at([0, 500])
        task.observe(seen(S.PAUSED, 20))  # start inferred at 500, pause seen at 20
        assert task.observe(seen(S.RUNNING, 22)).outcome is O.APPLIED

    @pytest.mark.parametrize("local", [S.RUNNING, S.PAUSED, S.STOPPED, S.FINISHED], ids=str)
    def test_an_old_earlier_status_is_stale(self, local: S) -> None:
        """A non-terminal status the task moved past, seen before its latest change, is stale."""
        task = Task("task_1", clock=ticking_clock())
        task.observe(seen(local, 100, steps=1))
        before = task.to_dict()
        assert task.observe(seen(S.CREATED, 50)).outcome is O.STALE
        if local.is_terminal:
            assert task.observe(seen(S.RUNNING, 99.5)).outcome is O.STALE
        assert task.to_dict() == before


class TestConflict:
    @pytest.mark.parametrize(
        ("local", "remote"),
        [(S.STOPPED, S.FAILED), (S.FAILED, S.FINISHED), (S.FINISHED, S.STOPPED)],
        ids=str,
    )
    def test_terminal_disagreement(self, local: S, remote: S) -> None:
        """Two terminal statuses: a conflict carrying both, never raised, nothing changed."""
        task = Task("task_1", clock=ticking_clock())
        task.observe(seen(local, 100, steps=1))
        before = task.to_dict()
        result = task.observe(seen(remote, 5, ref="evt_x"))
        assert (result.outcome, result.records) == (O.CONFLICT, ())
        assert isinstance(result.conflict, ReconcileConflict)
        assert (result.conflict.local, result.conflict.remote) == (local, remote)
        assert task.to_dict() == before

    @pytest.mark.parametrize(
        ("local", "remote"), [(S.STOPPED, S.RUNNING), (S.RUNNING, S.CREATED)], ids=str
    )
    def test_a_newer_unreachable_status(self, local: S, remote: S) -> None:
        """A newer status the table cannot reach is a conflict, not a stale observation."""
        task = Task("task_1", clock=ticking_clock())
        task.observe(seen(local, 100))
        before = task.to_dict()
        result = task.observe(seen(remote, 200))
        assert result.outcome is O.CONFLICT
        assert result.conflict is not None
        assert (result.conflict.local, result.conflict.remote) == (local, remote)
        assert task.to_dict() == before


class TestArguments:
    def test_not_an_observation(self) -> None:
        """observe() of anything but an Observation is InvalidArgument."""
        with pytest.raises(InvalidArgument) as caught:
            Task("t").observe(("running", T0))  # type: ignore[arg-type]
        assert caught.value.argument == "observation"

    @pytest.mark.parametrize("skew", [timedelta(seconds=-1), 1.0], ids=["negative", "float"])
    def test_bad_skew(self, skew: object) -> None:
        """A negative or non-timedelta skew is InvalidArgument, nothing changed."""
        task = Task("t", clock=ticking_clock())
        with pytest.raises(InvalidArgument) as caught:
            task.observe(seen(S.RUNNING, 5), skew=skew)  # type: ignore[arg-type]
        assert caught.value.argument == "skew"
        assert task.version == 0


class TestFromRemote:
    def test_history_is_the_shortest_path_inferred_but_last(self) -> None:
        """from_remote('finished') holds an inferred start and the seen finish, both remote."""
        task = Task.from_remote(
            "task_1", S.FINISHED, at=T0 + 9 * SECOND, steps=12, created_at=T0, ref="evt",
            clock=lambda: T0 + 20 * SECOND,
        )  # fmt: skip
        assert (task.status, task.steps, task.created_at, task.version) == (S.FINISHED, 12, T0, 2)
        rows = [(r.action.value, r.origin, r.inferred, r.remote_at, r.ref) for r in task.history]
        assert rows == [
            ("start", "remote", True, None, None),
            ("finish", "remote", False, T0 + 9 * SECOND, "evt"),
        ]  # fmt: skip
        assert {r.at for r in task.history} == {T0 + 20 * SECOND}

    @pytest.mark.parametrize("status", list(S), ids=str)
    def test_every_status_round_trips(self, status: S) -> None:
        """Any status can be rebuilt, and the task survives to_dict/from_dict."""
        steps = 0 if status is S.CREATED else 3
        task = Task.from_remote("task_1", status, at=T0, steps=steps, clock=ticking_clock())
        assert task.status is status
        assert [r.action for r in task.history] == list(
            LIFECYCLE.path(S.CREATED, status, ran=steps > 0) or ()
        )
        assert Task.from_dict(task.to_dict()) == task

    def test_steps_mean_it_ran(self) -> None:
        """A stopped task with steps is rebuilt through running."""
        task = Task.from_remote("task_1", S.STOPPED, at=T0, steps=1, clock=ticking_clock())
        assert [r.action.value for r in task.history] == ["start", "stop"]

    def test_no_listener_is_called(self) -> None:
        """Building a task is not a transition: the lifecycle's listeners hear nothing."""
        heard: list[object] = []
        unsubscribe = LIFECYCLE.subscribe(lambda task, record: heard.append(record))
        try:
            Task.from_remote("task_1", S.FAILED, at=T0, clock=ticking_clock())
        finally:
            unsubscribe()
        assert heard == []

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [({"task_id": "a b"}, "id"), ({"status": "gone"}, "status"),
         ({"at": datetime(2026, 1, 1)}, "at"), ({"steps": -2}, "steps"),
         ({"ref": "x" * 300}, "ref"), ({"status": "created", "steps": 1}, "steps")],
        ids=["id", "status", "naive-at", "steps", "ref", "created-with-steps"],
    )  # fmt: skip
    def test_bad_input_names_the_field(self, kwargs: dict[str, object], field: str) -> None:
        """Bad remote data raises InvalidTaskData naming the field."""
        values: dict[str, object] = {"task_id": "t", "status": "running", "at": T0, **kwargs}
        with pytest.raises(InvalidTaskData) as caught:
            Task.from_remote(**values)  # type: ignore[arg-type]
        assert caught.value.field == field


# The property: any reordered, duplicated, partly dropped stream of observations of one remote
# history --------------------------------------------------------------------------------------

_REMOTE_ACTIONS = sorted({action for (_, action) in REFERENCE_TABLE})


@st.composite
def remote_histories(draw: st.DrawFn) -> list[tuple[str, str, datetime]]:
    """A remote history from the reference table: (action, dest, at) with rising times."""
    status, at = "created", T0
    made: list[tuple[str, str, datetime]] = []
    for _ in range(draw(st.integers(0, 8))):
        choices = [a for a in _REMOTE_ACTIONS if (status, a) in REFERENCE_TABLE]
        if not choices:
            break
        action = draw(st.sampled_from(choices))
        at += timedelta(milliseconds=draw(st.integers(1, 5_000)))
        status = REFERENCE_TABLE[status, action]
        made.append((action, status, at))
    return made


@st.composite
def observation_streams(
    draw: st.DrawFn,
) -> tuple[list[tuple[str, str, datetime]], list[Observation]]:
    """A remote history and a delivery of its observations: reordered, duplicated, dropped;
    webhook-like ones (with a ref, at the change's time) and poll-like ones (no ref, some time
    while the remote was in that status)."""
    made = draw(remote_histories())
    reports: list[Observation] = []
    spans = [("created", T0, made[0][2] if made else T0 + 10 * SECOND)]
    spans += [
        (dest, at, made[i + 1][2] if i + 1 < len(made) else at + 10 * SECOND)
        for i, (_, dest, at) in enumerate(made)
    ]
    for i, (status, start, end) in enumerate(spans):
        if i and draw(st.booleans()):
            reports.append(Observation(status, start, ref=f"evt_{i}"))
        if draw(st.booleans()):
            offset = draw(st.integers(0, int((end - start) / timedelta(milliseconds=1)) - 1))
            reports.append(Observation(status, start + timedelta(milliseconds=offset)))
    deliveries = draw(st.lists(st.sampled_from(reports), max_size=20)) if reports else []
    return made, deliveries


class TestObservationProperty:
    @given(
        stream=observation_streams(),
        clock_offset=st.integers(-3_600, 3_600),
        skew_ms=st.integers(0, 3_000),
    )
    def test_never_a_transition_the_remote_did_not_make(
        self,
        stream: tuple[list[tuple[str, str, datetime]], list[Observation]],
        clock_offset: int,
        skew_ms: int,
    ) -> None:
        """Whatever the order, duplicates and gaps, and whatever the receiver's clock: every
        record not marked inferred is a transition the remote made (its action into its dest)
        after the previous such record's and by its own time, which is that of an observation
        of that dest (with its ref); applying an observation again
        changes nothing; IGNORED never comes from the task; a final read converges."""
        made, deliveries = stream
        task = Task("task_1", clock=ticking_clock(T0 + clock_offset * SECOND), created_at=T0)
        skew = timedelta(milliseconds=skew_ms)
        for observation in deliveries:
            result = task.observe(observation, skew=skew)
            assert result.outcome is not O.IGNORED
            assert (result.records == ()) or result.outcome is O.APPLIED
            after = task.to_dict()
            assert task.observe(observation, skew=skew).outcome is not O.APPLIED
            assert task.to_dict() == after
            previous = T0 - SECOND
            for record in task.history:
                assert record.origin == "remote"
                if record.inferred:
                    continue
                assert record.remote_at is not None
                assert any(
                    o.status is record.dest and o.at == record.remote_at and o.ref == record.ref
                    for o in deliveries
                )
                # The remote made this move after the previous record's and by its time.
                assert record.remote_at > previous
                moves = {(a, d) for a, d, at in made if previous < at <= record.remote_at}
                assert (record.action.value, record.dest.value) in moves
                previous = record.remote_at
        final = made[-1][1] if made else "created"
        task.reconcile(S(final))  # the final refresh: never a conflict
        assert task.status == final
