"""The server benchmark's baseline: FastAPI endpoints doing no work, served like ``tasklife serve``.

``python -m bench.bare_app PORT`` serves ``PUT /api/v1/{pause,resume}-task?task_id=`` (answering
``{}``, as the v1 API does) and ``GET /api/v1/ping`` with ``uvicorn.run`` on 127.0.0.1, the
same call and options ``tasklife serve`` uses (one process, one event loop, no access log).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["build", "main"]


def build() -> Any:
    """The bare app."""
    from fastapi import FastAPI, Response  # noqa: PLC0415 - optional, imported when served

    app = FastAPI()

    @app.put("/api/v1/pause-task")
    async def pause(task_id: str) -> Response:
        return Response(b"{}", media_type="application/json")

    @app.put("/api/v1/resume-task")
    async def resume(task_id: str) -> Response:
        return Response(b"{}", media_type="application/json")

    @app.post("/api/v1/run-task")
    async def run_task() -> Response:
        return Response(b'{"id": "task_bare"}', media_type="application/json")

    @app.get("/api/v1/ping")
    async def ping() -> Response:
        return Response(b'{"status": "ok"}', media_type="application/json")

    return app


def main(argv: list[str]) -> int:
    """Serve the bare app on 127.0.0.1:PORT until terminated."""
    import uvicorn  # noqa: PLC0415 - optional

    uvicorn.run(build(), host="127.0.0.1", port=int(argv[0]), log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
