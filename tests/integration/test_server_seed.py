"""The resume-task seed's cURL and ``requests`` examples, verbatim but for base URL and token."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess

import pytest
from service_kit import seed

from tasklife import Task
from tasklife.server import key_fingerprint
from tasklife.server.testing import LiveServer

BASH = shutil.which("bash") or "/bin/bash"
SEED_BASE = "https://api.browser-use.com"
SEED_TASK = "task_1234567890abcdef"

SEED_CURL = """curl --request PUT \\
--url 'https://api.browser-use.com/api/v1/resume-task?task_id=task_1234567890abcdef' \\
--header 'Authorization: Bearer <token>'
"""

SEED_PYTHON = """import requests
url = "https://api.browser-use.com/api/v1/resume-task"
params = {"task_id": "task_1234567890abcdef"}
headers = {"Authorization": "Bearer <token>"}
response = requests.request("PUT", url, headers=headers, params=params)
print(response.text)
"""

SEED_422 = (
    '{"detail":[{"loc":["query","task_id"],"msg":"field required","type":"value_error.missing"}]}'
)


@pytest.fixture
def paused_seed_task(live_server: LiveServer, api_key: str) -> str:
    """The seed's task id, stored as a paused task owned by ``api_key``."""
    task = Task(SEED_TASK)
    task.start()
    task.pause()
    seed(live_server.store, key_fingerprint(api_key), task, text="the seed")
    return SEED_TASK


def localise(example: str, server: LiveServer, key: str) -> str:
    """The example with only the base URL and the token changed."""
    return example.replace(SEED_BASE, server.base_url).replace("<token>", key)


def status(server: LiveServer, key: str, task_id: str) -> object:
    with server.client(key) as http:
        return http.get(f"/api/v1/task/{task_id}/status").json()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
class TestCurlExample:
    def test_resumes_the_task(
        self, live_server: LiveServer, api_key: str, paused_seed_task: str
    ) -> None:
        """The seed's cURL command prints {} and the task runs again."""
        script = localise(SEED_CURL, live_server, api_key)
        out = subprocess.run([BASH, "-c", script], capture_output=True, text=True, check=True)
        assert out.stdout == "{}"
        assert status(live_server, api_key, paused_seed_task) == "running"

    def test_without_task_id_prints_the_seed_422(
        self, live_server: LiveServer, api_key: str
    ) -> None:
        """The cURL command without its query string prints the seed's 422 body."""
        script = localise(SEED_CURL, live_server, api_key).replace(f"?task_id={SEED_TASK}", "")
        out = subprocess.run([BASH, "-c", script], capture_output=True, text=True, check=True)
        assert out.stdout == SEED_422


class TestRequestsExample:
    def test_resumes_the_task(
        self, live_server: LiveServer, api_key: str, paused_seed_task: str
    ) -> None:
        """The seed's requests example prints {} and the task runs again."""
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(localise(SEED_PYTHON, live_server, api_key), {})  # noqa: S102 - the seed's code
        assert printed.getvalue() == "{}\n"
        assert status(live_server, api_key, paused_seed_task) == "running"

    def test_wrong_token_is_401(
        self, live_server: LiveServer, api_key: str, paused_seed_task: str
    ) -> None:
        """With a token the server does not know, the example gets 401 and nothing changes."""
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(localise(SEED_PYTHON, live_server, "wrong"), {})  # noqa: S102 - the seed's code
        assert "Missing or invalid API key" in printed.getvalue()
        assert status(live_server, api_key, paused_seed_task) == "paused"
