"""The project's transports against the project's server, over real loopback HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tasklife import CannotResumeStoppedTask, TaskStatus
from tasklife.lifecycle import Action
from tasklife.server.testing import LiveServer
from tasklife.transports import (
    ActionRefused,
    AsyncRemoteTask,
    AuthError,
    RemoteTask,
    TaskNotFound,
)
from tasklife.transports.http import AsyncBrowserUseTransport, BrowserUseTransport


class TestSyncTransport:
    def test_full_lifecycle(self, shared_server: LiveServer, api_key: str) -> None:
        """run, pause, resume, stop through RemoteTask; the server ends stopped too."""
        with BrowserUseTransport(api_key, base_url=shared_server.base_url) as transport:
            run = RemoteTask.create(transport, "sync lifecycle")
            assert (run.pause(), run.resume(), run.stop()) == (True, True, True)
            assert transport.get_status(run.id) is TaskStatus.STOPPED
        assert [r.action.value for r in run.task.history] == ["start", "pause", "resume", "stop"]

    def test_resume_of_stopped_is_refused_locally(
        self, shared_server: LiveServer, api_key: str
    ) -> None:
        """RemoteTask refuses to resume a stopped task before any request; nothing changes."""
        with BrowserUseTransport(api_key, base_url=shared_server.base_url) as transport:
            run = RemoteTask.create(transport, "refused")
            run.stop()
            with pytest.raises(CannotResumeStoppedTask):
                run.resume()
            assert run.task.version == 2

    def test_server_refusal_is_action_refused(
        self, shared_server: LiveServer, api_key: str
    ) -> None:
        """A raw push the server refuses is ActionRefused, 409, carrying the domain message."""
        with BrowserUseTransport(api_key, base_url=shared_server.base_url) as transport:
            run = RemoteTask.create(transport, "raw push")
            run.stop()
            with pytest.raises(ActionRefused) as caught:
                transport.push(run.id, Action.RESUME)
        assert caught.value.status_code == 409
        assert "a stopped task can never be resumed" in str(caught.value.detail)

    def test_steps_reach_the_client(
        self, shared_server: LiveServer, api_key: str, client: httpx.Client
    ) -> None:
        """Steps taken on the server show up in the transport's task view and after refresh."""
        with BrowserUseTransport(api_key, base_url=shared_server.base_url) as transport:
            run = RemoteTask.create(transport, "steps")
            client.post(f"/emulator/v1/task/{run.id}/advance", params={"steps": 3})
            view = run.refresh()
        assert (view.steps, len(view.step_details), run.steps) == (3, 3, 3)

    def test_unknown_task_is_task_not_found(self, shared_server: LiveServer, api_key: str) -> None:
        """The server's 404 becomes the transport's TaskNotFound."""
        with (
            BrowserUseTransport(api_key, base_url=shared_server.base_url) as transport,
            pytest.raises(TaskNotFound),
        ):
            transport.get_status("task_nope")

    def test_wrong_key_is_auth_error(self, shared_server: LiveServer) -> None:
        """The server's 401 becomes the transport's AuthError."""
        with (
            BrowserUseTransport("wrong-key", base_url=shared_server.base_url) as transport,
            pytest.raises(AuthError),
        ):
            transport.list_tasks()


class TestAsyncTransport:
    def test_full_lifecycle(self, shared_server: LiveServer, api_key: str) -> None:
        """The async twin drives the same lifecycle against the same server."""

        async def scenario() -> tuple[list[str], TaskStatus]:
            async with AsyncBrowserUseTransport(
                api_key, base_url=shared_server.base_url
            ) as transport:
                run = await AsyncRemoteTask.create(transport, "async lifecycle")
                await run.pause()
                await run.resume()
                await run.stop()
                with pytest.raises(CannotResumeStoppedTask):
                    await run.resume()
                status = await transport.get_status(run.id)
            return [r.action.value for r in run.task.history], status

        history, status = asyncio.run(scenario())
        assert history == ["start", "pause", "resume", "stop"]
        assert status is TaskStatus.STOPPED

    def test_concurrent_tasks(self, shared_server: LiveServer, api_key: str) -> None:
        """Twenty tasks paused and resumed concurrently all end running, none refused."""

        async def scenario() -> list[TaskStatus]:
            async with AsyncBrowserUseTransport(
                api_key, base_url=shared_server.base_url
            ) as transport:
                runs = await asyncio.gather(
                    *(AsyncRemoteTask.create(transport, f"t{n}") for n in range(20))
                )
                await asyncio.gather(*(run.pause() for run in runs))
                await asyncio.gather(*(run.resume() for run in runs))
                return list(await asyncio.gather(*(transport.get_status(run.id) for run in runs)))

        assert asyncio.run(scenario()) == [TaskStatus.RUNNING] * 20
