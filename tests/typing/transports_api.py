"""The transports' public API used as a user would; type-checked by mypy --strict, never run."""

from __future__ import annotations

import asyncio

import httpx

from tasklife import TaskStatus
from tasklife.lifecycle import Action
from tasklife.transports import (
    AsyncBrowserUseTransport,
    AsyncInMemoryTransport,
    AsyncRemoteTask,
    AsyncTransport,
    BrowserUseTransport,
    InMemoryTransport,
    RemoteTask,
    RetryPolicy,
    TaskPage,
    TaskView,
    Transport,
    TransportClosed,
    TransportError,
)


def progress(view: TaskView) -> None:
    print(view.status, view.steps, [s.next_goal for s in view.step_details])


def use(transport: Transport) -> TaskStatus:
    run: RemoteTask = RemoteTask.create(transport, "go", max_agent_steps=10, metadata={"a": "b"})
    changed: bool = run.pause()
    changed = run.resume()
    view: TaskView = run.refresh()
    again = RemoteTask.attach(transport, run.id)
    page: TaskPage = transport.list_tasks(page=1, limit=10)
    transport.push(again.id, Action.STOP)
    print(changed, view.created_at, page.total_count)
    try:
        return run.wait(TaskStatus.FINISHED, timeout=60, interval=1, on_progress=progress)
    except TransportClosed:
        raise
    except TransportError as error:
        print(error.status_code, error.detail, error.may_have_reached_server, error.retry_after)
        print(error.task_id)
        raise


async def use_async(transport: AsyncTransport) -> TaskStatus:
    run: AsyncRemoteTask = await AsyncRemoteTask.create(transport, "go")
    await run.pause()
    await run.resume()
    return await run.wait(timeout=60)


with BrowserUseTransport(
    "key", base_url="http://127.0.0.1:8000", retry=RetryPolicy(max_attempts=2), timeout=5,
    call_timeout=60, max_response_bytes=1 << 20,
) as http_transport:  # fmt: skip
    use(http_transport)
use(InMemoryTransport())
with httpx.Client() as client:
    use(BrowserUseTransport("key", client=client))


async def main() -> None:
    async with AsyncBrowserUseTransport("key", timeout=httpx.Timeout(5.0)) as transport:
        await use_async(transport)
    await use_async(AsyncInMemoryTransport())


asyncio.run(main())
