"""A load generator in its own process: ``python -m bench.load PORTS CLIENTS SECONDS [--create]``.

PORTS is one port or several, comma-separated (replicas of one service): client n talks to
port n modulo their number. Each of CLIENTS asyncio connections (HTTP/1.1 keep-alive,
hand-written on asyncio streams so the generator stays much cheaper than the servers it
measures) alternates ``PUT pause-task`` and
``PUT resume-task`` on its own task for SECONDS after a short warm-up; with ``--create`` each
first creates that task with ``POST /api/v1/run-task``. The bearer key comes from the
``BENCH_API_KEY`` environment variable. Prints one JSON object: requests, seconds, per-status
counts, latency percentiles and the mean number of actions each client sent (warm-up included:
with ``--create``, each client's task ends the run with that many history records plus one).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import sys
import time
from typing import Any

__all__ = ["main"]

WARMUP = 0.5


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(head + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        headers = raw.lower()
        marker = headers.find(b"content-length:")
        if marker >= 0:
            end = headers.index(b"\r\n", marker)
            payload = await self.reader.readexactly(int(headers[marker + 15 : end]))
        elif b"transfer-encoding: chunked" in headers:
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunks.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            payload = b"".join(c[:-2] for c in chunks)
        else:
            payload = b""
        return status, payload


def _head(method: str, path: str, port: int, key: str, length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


class _Tally:
    """The measuring window and what was measured in it, shared by the clients."""

    def __init__(self, start: float, stop: float) -> None:
        self.start = start
        self.stop = stop
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.actions: list[int] = []


async def _client(n: int, port: int, key: str, create: bool, tally: _Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = _Conn(reader, writer)
    task_id = f"task_bench_{n}"
    if create:
        body = json.dumps({"task": f"bench client {n}"}).encode()
        status, payload = await conn.request(
            _head("POST", "/api/v1/run-task", port, key, len(body)), body
        )
        if status == 200:
            task_id = json.loads(payload)["id"]
    heads = [
        _head("PUT", f"/api/v1/{action}-task?task_id={task_id}", port, key, 0)
        for action in ("pause", "resume")
    ]
    i = 0
    while (now := time.perf_counter()) < tally.stop:
        status, _ = await conn.request(heads[i & 1])
        i += 1
        done = time.perf_counter()
        if now >= tally.start:
            tally.latencies.append(done - now)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
    tally.actions.append(i)
    writer.close()


async def _run(
    ports: list[int], clients: int, seconds: float, create: bool, key: str
) -> dict[str, Any]:
    begin = time.perf_counter()
    tally = _Tally(begin + WARMUP, begin + WARMUP + seconds)
    await asyncio.gather(
        *(_client(n, ports[n % len(ports)], key, create, tally) for n in range(clients))
    )
    latencies, statuses = tally.latencies, tally.statuses
    actions = statistics.mean(tally.actions) if tally.actions else 0
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0]
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "statuses": {str(k): v for k, v in statuses.items()},
        "p50_ms": statistics.median(latencies) * 1e3 if latencies else None,
        "p99_ms": q[min(98, len(q) - 1)] * 1e3,
        "actions_per_client": actions,
    }


def main(argv: list[str]) -> int:
    """Run the load and print the JSON result."""
    ports = [int(port) for port in argv[0].split(",")]
    clients, seconds = int(argv[1]), float(argv[2])
    key = os.environ.get("BENCH_API_KEY", "")
    print(json.dumps(asyncio.run(_run(ports, clients, seconds, "--create" in argv, key))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
