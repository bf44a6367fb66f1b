"""Verifying a webhook delivery: ``tasklife.webhooks.verify`` against the official SDK's helper.

The same deliveries for every contender: one ``agent.task.status_update`` for each of the five
statuses the SDK knows (metadata with non-ASCII text) and one ``test`` event, each signed by the
SDK's ``create_webhook_signature``. One op verifies all six; figures are per event.

- ``tasklife verify()``: the raw body bytes and a dict of seven request headers, as a receiver
  has them; checks headers, bounds, signature, age (300 s) and the envelope; returns an event.
- ``SDK verify_webhook_event_signature``: browser-use-sdk's helper, with the work its caller
  must do on the same delivery: decode the body to ``str`` and look the two header values up
  (by their exact lower-case names, the cheapest look-up there is, which favours the SDK). It
  checks no age and no bounds, and returns a pydantic model or None.
- ``bare scheme (floor)``: ``json.loads``, the canonical ``json.dumps``, one HMAC and a
  constant-time compare: the least any verifier of this scheme does.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from bench.report import Section, Verdict, load_average, table
from bench.timing import interleaved
from tasklife.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

__all__ = ["run"]

SECRET = "whsec_bench_0123456789abcdef"  # noqa: S105 - a throwaway for the benchmark
SDK_STATUSES = ("initializing", "started", "paused", "stopped", "finished")
_TARGET = "≤ 1.00x the SDK (at least as fast)"
_NAME = "webhook verify() vs browser-use-sdk verify_webhook_event_signature"


def deliveries(sdk: Any, at: datetime) -> list[tuple[bytes, dict[str, str]]]:
    """The six signed deliveries (body bytes, request headers), signed by the SDK."""
    stamp = str(int(at.timestamp()))
    envelopes: list[dict[str, Any]] = [
        {"type": "agent.task.status_update", "timestamp": at.isoformat(),
         "payload": {"session_id": "cd9cc7bf-2d8b-4d70-9f3c-0a3e4c1b2d5e",
                     "task_id": "5b73fb3f-8e4a-4c8b-a1f0-7d2c9e6b4a13", "status": status,
                     "metadata": {"campaign": "q4-automation", "owner": "Zoë Ångström",
                                  "note": "café ☕ 東京"}}}
        for status in SDK_STATUSES
    ]  # fmt: skip
    envelopes.append({"type": "test", "timestamp": at.isoformat(), "payload": {"test": "ok"}})
    out = []
    for envelope in envelopes:
        body = json.dumps(envelope).encode()
        headers = {
            "host": "receiver.example",
            "user-agent": "python-httpx/0.28.1",
            "accept": "*/*",
            "content-type": "application/json",
            "content-length": str(len(body)),
            TIMESTAMP_HEADER.lower(): stamp,
            SIGNATURE_HEADER.lower(): sdk.create_webhook_signature(envelope, stamp, SECRET),
        }
        out.append((body, headers))
    return out


def _contenders(sdk: Any, signed: list[tuple[bytes, dict[str, str]]]) -> dict[str, Any]:
    sig, ts = SIGNATURE_HEADER.lower(), TIMESTAMP_HEADER.lower()
    sdk_verify = sdk.verify_webhook_event_signature
    key = SECRET.encode()

    def tasklife_op() -> object:
        return [verify(body, headers, SECRET) for body, headers in signed]

    def sdk_op() -> object:
        events = [sdk_verify(body.decode(), h[sig], h[ts], SECRET) for body, h in signed]
        assert None not in events
        return events

    def floor_op() -> object:
        out = []
        for body, h in signed:
            canonical = json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True)
            mac = hmac.new(key, f"{h[ts]}.{canonical}".encode(), hashlib.sha256).hexdigest()
            out.append(hmac.compare_digest(mac, h[sig]))
        assert all(out)
        return out

    return {
        "tasklife verify()": tasklife_op,
        "SDK verify_webhook_event_signature": sdk_op,
        "bare scheme (floor)": floor_op,
    }


def run(*, quick: bool) -> Section:
    """Verify the same six deliveries with each contender, interleaved; judge the target."""
    rounds, batch = (5, 0.02) if quick else (15, 0.1)
    load_before = load_average()
    try:
        sdk = importlib.import_module("browser_use_sdk.lib.webhooks")
    except ImportError:
        why = "browser-use-sdk is not installed (pip install 'browser-use-sdk>=2.0.6,<3')"
        return Section(
            "Webhooks: verify a delivery", f"Not measured: {why}.\n",
            (Verdict(_NAME, f"not measured: {why}", _TARGET, None),),
        )  # fmt: skip
    signed = deliveries(sdk, datetime.now(UTC))
    ops = _contenders(sdk, signed)
    for op in ops.values():  # every contender accepts every delivery before it is timed
        op()
    per_op = interleaved(ops, rounds=rounds, batch_seconds=batch)
    per_event = {name: s.values for name, s in per_op.items()}
    ours = per_op["tasklife verify()"].median
    sdk_median = per_op["SDK verify_webhook_event_signature"].median
    ratio = ours / sdk_median
    shown = [("unknown" if x is None else f"{x:.2f}") for x in (load_before, load_average())]
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("browser-use-sdk", "pydantic"))
    n = len(signed)
    rows = [
        (f"`{name}`", f"{per_op[name].spread(1e6 / n)}", f"{per_op[name].median / ours:.2f}x")
        for name in per_event
    ]
    body = [
        f"One op verifies {n} signed deliveries (one `agent.task.status_update` for each of the "
        "five SDK statuses, metadata with non-ASCII text, and one `test` event); figures are µs "
        f"per event. {rounds} rounds, contenders interleaved. Ratio = contender median / "
        "tasklife median (higher means tasklife is faster). `tasklife verify()` gets the raw "
        "body bytes and the seven request headers (matched case-insensitively) and also checks "
        "the age, the bounds and the envelope; the SDK contender decodes the body and looks "
        "the two headers up by their exact lower-case names, and checks no age. The floor is "
        "`json.loads` + canonical `json.dumps` + one HMAC-SHA256 + `hmac.compare_digest`.\n",
        table(["contender", "µs per event", "x tasklife"], rows),
        f"With {versions}. Load average (1 min) {shown[0]} at the start of this section and "
        f"{shown[1]} at its end. This section alone: `python -m bench --only webhooks`.\n",
    ]
    verdict = Verdict(_NAME, f"{ratio:.2f}x the SDK's time", _TARGET, ratio <= 1.0)
    return Section("Webhooks: verify a delivery", "\n".join(body), (verdict,))
