"""schemathesis against the server's own OpenAPI schema, over real loopback HTTP.

Every operation in ``/openapi.json`` gets generated requests (valid and invalid), sent with a
valid key to a live server, in both of schemathesis's modes: positive (requests the
schema allows) and negative (requests it forbids). Checks: never a 5xx, and the content
type and body match what the schema declares for that status. Undocumented statuses (401,
404, 409, 413) are the server's documented error contract, so ``status_code_conformance``
is not applied. Bounded: 25 examples per operation and mode by default, 500 with
``--hypothesis-profile=deep``.

schemathesis's own pytest integration (``schemathesis.pytest.from_fixture``) fails on
pytest 9 (it reads ``Function._nodeid``); each operation's strategy is driven with
Hypothesis's ``@given`` instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tasklife.server.testing import LiveServer

KEY = "schema-key-3c8d"
DEEP = settings().max_examples >= 1000
EXAMPLES = 500 if DEEP else 25
OPERATIONS = [
    ("PUT", "/api/v1/pause-task"),
    ("PUT", "/api/v1/resume-task"),
    ("PUT", "/api/v1/stop-task"),
    ("POST", "/api/v1/run-task"),
    ("GET", "/api/v1/task/{task_id}"),
    ("GET", "/api/v1/task/{task_id}/status"),
    ("GET", "/api/v1/tasks"),
    ("GET", "/api/v1/ping"),
    ("POST", "/emulator/v1/task/{task_id}/advance"),
    ("POST", "/emulator/v1/task/{task_id}/finish"),
    ("POST", "/emulator/v1/task/{task_id}/fail"),
    ("GET", "/emulator/v1/task/{task_id}/history"),
]
# Operations whose only input is a free string in the path (or nothing): the schema forbids
# no request to them, so schemathesis has no negative case to generate.
NOTHING_TO_VIOLATE = {
    ("GET", "/api/v1/task/{task_id}"),
    ("GET", "/api/v1/task/{task_id}/status"),
    ("GET", "/api/v1/ping"),
    ("POST", "/emulator/v1/task/{task_id}/finish"),
    ("GET", "/emulator/v1/task/{task_id}/history"),
}
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or (method, path) not in NOTHING_TO_VIOLATE
]
SENT: Counter[int] = Counter()


@pytest.fixture(scope="module")
def schema_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db: Path = tmp_path_factory.mktemp("schema") / "tasks.sqlite3"
    with LiveServer.start(db, api_keys=[KEY], max_body_bytes=64 * 1024) as server:
        yield server


@pytest.fixture(autouse=True)
def _figures(record_property: Callable[[str, object], None]) -> Iterator[None]:
    """Attach the statuses the test's requests got to its report (bench reads them)."""
    SENT.clear()
    yield
    record_property("statuses", {str(code): n for code, n in sorted(SENT.items())})


@pytest.fixture(scope="module")
def api_schema(schema_server: LiveServer) -> schemathesis.BaseSchema:
    """The live server's OpenAPI schema, loaded over HTTP."""
    return schemathesis.openapi.from_url(f"{schema_server.base_url}/openapi.json")


class TestOpenAPI:
    def test_every_operation_is_covered(self, api_schema: schemathesis.BaseSchema) -> None:
        """The operations tested below are exactly the schema's (a new endpoint is not skipped)."""
        operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]
        found = {(operation.method.upper(), operation.path) for operation in operations}
        assert found == set(OPERATIONS)

    @pytest.mark.parametrize(("method", "path", "mode"), CASES)
    def test_operation_conforms(
        self,
        api_schema: schemathesis.BaseSchema,
        schema_server: LiveServer,
        method: str,
        path: str,
        mode: GenerationMode,
    ) -> None:
        """Valid and invalid generated requests never get a 5xx; answers match the schema."""
        operation = api_schema[path][method]
        headers = {"Authorization": f"Bearer {KEY}"}

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=not DEEP,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=schema_server.base_url, headers=headers, timeout=10)
            SENT[response.status_code] += 1
            case.validate_response(
                response,
                checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
            )

        conforms()
