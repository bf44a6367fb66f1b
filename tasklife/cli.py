"""The ``tasklife`` command: ``diagram``, ``serve``, ``demo`` and ``webhooks`` (also
``python -m tasklife``).

``serve``, ``demo`` and ``webhooks`` import the server's parts (FastAPI, uvicorn, SQLite,
httpx) only when they run, so ``tasklife diagram`` and ``import tasklife`` never load them.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, cast

from tasklife.diagram import render
from tasklife.lifecycle import LIFECYCLE

if TYPE_CHECKING:
    from tasklife.service import Deliveries

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process's exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tasklife",
        description="The lifecycle of a remote browser-automation task.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="show the version"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    diagram = _command(
        commands, _diagram, "write the lifecycle diagrams (Mermaid, SVG, README) from the table"
    )
    diagram.add_argument(
        "--out", type=Path, default=Path("diagrams"), help="folder to write (default: diagrams)"
    )
    diagram.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any file in the folder differs from the table",
    )
    _add_serve(commands)
    _command(
        commands, _demo, "drive one task through a local server: run, pause, resume, stop, "
        "resume (refused)",
    )  # fmt: skip
    _add_webhooks(commands)
    return parser


def _command(
    commands: _Commands, run: Callable[[argparse.Namespace], int], summary: str
) -> argparse.ArgumentParser:
    """The subcommand ``run`` runs: named after it (``_dead_letters``: ``dead-letters``),
    ``summary`` in the list of commands, ``run``'s docstring as its ``--help`` description."""
    name = run.__name__.strip("_").replace("_", "-")
    command = commands.add_parser(name, help=summary, description=inspect.getdoc(run))
    command.set_defaults(run=run)
    return command


def _add_database(command: argparse.ArgumentParser) -> None:
    """``--db`` and ``--db-schema``: the database of ``serve``, and of ``webhooks``' actions."""
    command.add_argument(
        "--db",
        default="tasklife.sqlite3",
        help="where the tasks live: a SQLite file, or a PostgreSQL database as a URL "
        "(postgresql://user@host:5432/db) or a libpq key=value string ('host=... dbname=...'; "
        "needs the postgres extra) (default: ./tasklife.sqlite3)",
    )
    command.add_argument(
        "--db-schema",
        default="tasklife",
        help="PostgreSQL: the schema holding the tables (default: tasklife)",
    )


def _add_serve(commands: _Commands) -> None:
    serve = _command(
        commands, _serve, "run a local Browser Use v1-compatible server (needs the server extra)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    _add_database(serve)
    serve.add_argument(
        "--db-timeout",
        type=float,
        default=10.0,
        help="seconds a request waits for the database: SQLite's write lock, or a connection "
        "of the PostgreSQL pool (default: 10)",
    )
    serve.add_argument(
        "--pool-min",
        type=int,
        default=1,
        help="PostgreSQL: connections the pool keeps open (default: 1)",
    )
    serve.add_argument(
        "--pool-max",
        type=int,
        default=10,
        help="PostgreSQL: connections the pool opens at most (default: 10)",
    )
    serve.add_argument(
        "--api-key",
        default=None,
        help="the bearer key clients must send (default: $TASKLIFE_API_KEY or "
        "$BROWSER_USE_API_KEY)",
    )
    serve.add_argument(
        "--step-seconds",
        type=float,
        default=1.0,
        help="seconds per simulated step of a running task; 0 = manual mode, moved only by "
        "the /emulator/v1 endpoints (default: 1.0)",
    )
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="write no line per request (warnings, errors and start-up lines are still logged)",
    )
    serve.add_argument(
        "--webhook-url",
        default=None,
        help="POST a signed Browser Use webhook to this URL for every status change (https://, "
        "or http:// to loopback); a `test` event at start",
    )
    serve.add_argument(
        "--webhook-secret",
        default=None,
        help="the secret signing the webhooks (default: $TASKLIFE_WEBHOOK_SECRET); never logged",
    )
    serve.add_argument(
        "--webhook-failed-status",
        choices=("stopped", "failed"),
        default="stopped",
        help="the status a failed task is sent with: stopped (the v1 webhooks have no failed; "
        "the official SDK refuses it) or failed (default: stopped)",
    )
    serve.add_argument(
        "--webhook-allow-http",
        action="store_true",
        help="allow a plain http:// webhook URL off this machine (unencrypted)",
    )


def _add_webhooks(commands: _Commands) -> None:
    webhooks = commands.add_parser(
        "webhooks",
        help="list and replay the webhook events whose every attempt failed (dead letters)",
        description="The dead letters of the webhook sender of `tasklife serve --webhook-url`: "
        "events kept after their last failed attempt, in the server's database.",
    )
    actions = webhooks.add_subparsers(required=True, metavar="ACTION")
    listing = _command(actions, _dead_letters, "list the dead letters, oldest first")
    replay = _command(actions, _replay, "queue dead letters again")
    for action in (listing, replay):
        _add_database(action)
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append", dest="ids", help="a dead letter's id")
    which.add_argument("--all", action="store_true", help="every dead letter")


class _Refused(Exception):
    """Why a command cannot run: one line for stderr."""


@contextmanager
def _deliveries(args: argparse.Namespace) -> Iterator[Deliveries]:
    """The webhook delivery queue in the database ``--db`` names (closed afterwards)."""
    try:
        from tasklife.server.database import (  # noqa: PLC0415 - the server extra
            DatabaseOptions,
            describe,
            is_postgres,
            open_store,
        )
        from tasklife.service import Deliveries  # noqa: PLC0415
        from tasklife.service.deliveries import DeliveryStore  # noqa: PLC0415
        from tasklife.store import StoreError  # noqa: PLC0415
    except ImportError as error:
        raise _Refused(str(error)) from None
    db = args.db
    if not is_postgres(db) and not Path(db).is_file():
        raise _Refused(f"no database at {db} (pass --db)")
    try:
        store = open_store(db, DatabaseOptions(schema=args.db_schema))
    except (StoreError, ImportError) as error:
        raise _Refused(f"cannot open {describe(db)}: {error}") from None
    try:
        yield Deliveries(cast("DeliveryStore", store))
    finally:
        store.close()


def _dead_letters(args: argparse.Namespace) -> int:
    """List the dead letters, oldest first: id, task, status, event time, attempts, last error."""
    if not 1 <= args.limit <= 10_000:
        print("tasklife webhooks: --limit must be from 1 to 10000", file=sys.stderr)
        return 2
    try:
        with _deliveries(args) as queue:
            letters = queue.dead_letters(limit=args.limit)
    except _Refused as error:
        print(f"tasklife webhooks: {error}", file=sys.stderr)
        return 1
    for letter in letters:
        if args.json:
            fields = {
                "id": letter.id, "task_id": letter.task_id, "status": letter.status,
                "at": letter.at.isoformat(), "attempts": letter.attempts,
                "last_error": letter.last_error, "dead_at": letter.dead_at.isoformat(),
                "body": json.loads(letter.body),
            }  # fmt: skip
            print(json.dumps(fields, ensure_ascii=False))
        else:
            print(
                f"{letter.id}\t{letter.task_id or '(test)'}\t{letter.status}\t"
                f"{letter.at.isoformat()}\t{letter.attempts} attempts\t{letter.last_error}"
            )
    if not letters and not args.json:
        print("no dead letters", file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    """Queue dead letters again, due at once with fresh attempts; a running `tasklife serve`
    with a webhook URL sends them (signed afresh, same body)."""
    try:
        with _deliveries(args) as queue:
            count = queue.replay(None if args.all else args.ids)
    except _Refused as error:
        print(f"tasklife webhooks: {error}", file=sys.stderr)
        return 1
    print(f"queued {count} dead letter(s) again")
    return 0


def _version() -> str:
    from tasklife import __version__  # noqa: PLC0415 - the package, once its modules are loaded

    return __version__


def _diagram(args: argparse.Namespace) -> int:
    """Write diagrams/ from the lifecycle table: task_lifecycle.mmd, task_lifecycle.svg and
    README.md."""
    out: Path = args.out
    files = render(LIFECYCLE)
    if args.check:
        stale = [name for name, text in files.items() if _read(out / name) != text]
        for name in stale:
            print(f"stale: {out / name} (run: tasklife diagram --out {out})", file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _serve(args: argparse.Namespace) -> int:
    """Serve the Browser Use Cloud API v1 task endpoints from a SQLite file or a PostgreSQL
    database, with simulated execution; several servers on one database act as one service.
    The API key comes from --api-key, else TASKLIFE_API_KEY, else BROWSER_USE_API_KEY."""
    try:
        from tasklife.server.serve import Webhooks, serve  # noqa: PLC0415 - the server extra
    except ImportError as error:
        return _missing_extra("serve", error)
    key = api_key(args.api_key, os.environ)
    if key is None:
        print(
            "tasklife serve: no API key: pass --api-key or set TASKLIFE_API_KEY "
            "(or BROWSER_USE_API_KEY)",
            file=sys.stderr,
        )
        return 2
    from tasklife.server.database import DatabaseOptions  # noqa: PLC0415 - the server extra

    options = DatabaseOptions(
        pool_min=args.pool_min, pool_max=args.pool_max, timeout=args.db_timeout,
        schema=args.db_schema,
    )  # fmt: skip
    webhooks = None
    if args.webhook_url is not None:
        secret = args.webhook_secret
        if secret is None:
            secret = os.environ.get("TASKLIFE_WEBHOOK_SECRET")
        if secret is None:
            print(
                "tasklife serve: --webhook-url needs a secret: pass --webhook-secret or set "
                "TASKLIFE_WEBHOOK_SECRET",
                file=sys.stderr,
            )
            return 2
        webhooks = Webhooks(
            args.webhook_url, secret, args.webhook_failed_status, args.webhook_allow_http
        )
    elif args.webhook_secret is not None:
        print("tasklife serve: --webhook-secret needs --webhook-url", file=sys.stderr)
        return 2
    return serve(
        host=args.host, port=args.port, db=args.db, api_key=key, step_seconds=args.step_seconds,
        options=options, webhooks=webhooks, access_log=args.access_log,
    )  # fmt: skip


def api_key(given: str | None, environ: Mapping[str, str]) -> str | None:
    """The key ``tasklife serve`` uses: ``--api-key``, else ``TASKLIFE_API_KEY``, else
    ``BROWSER_USE_API_KEY``; None when that is missing or blank."""
    key = given
    if key is None:
        key = environ.get("TASKLIFE_API_KEY") or environ.get("BROWSER_USE_API_KEY")
    return key if key and key.strip() else None


def _demo(args: argparse.Namespace) -> int:
    """Start a server in-process on a free loopback port with a temporary SQLite file and a
    random key, drive one task through the transport and print each transition and the
    task's history."""
    try:
        from tasklife.demo import run_demo  # noqa: PLC0415 - needs the server extra
    except ImportError as error:
        return _missing_extra("demo", error)
    return run_demo(sys.stdout)


def _missing_extra(command: str, error: ImportError) -> int:
    """Say which extra to install (exit status 2); any other ImportError is a bug: raise it."""
    if "pip install 'tasklife[" not in str(error):
        raise error
    print(f"tasklife {command}: {error}", file=sys.stderr)
    return 2
