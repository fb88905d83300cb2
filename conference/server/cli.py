"""The `conference` command: serve, demo, db upgrade, token create, user add and reset-password
(conference/server/cli_users.py), backup, restore, badges print, certificates issue, schedule solve."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from conference.core.settings import SettingsError, load_settings
from conference.server import cli_users


def _db_upgrade(_args: argparse.Namespace) -> int:
    from conference.core.migrate import upgrade

    upgrade(load_settings().database_url)
    print("database is at the latest schema", file=sys.stderr)
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from conference.core import audit
    from conference.core.db import Database
    from conference.core.migrate import upgrade
    from conference.web.auth import create_api_token

    settings = load_settings()
    upgrade(settings.database_url)

    async def run() -> str:
        database = Database.from_settings(settings)
        try:
            async with database.transaction() as db:
                token = await create_api_token(db, role=args.role, name=args.name or f"{args.role} token")
                await audit.record(
                    db, "conference.token.created", actor=audit.Actor("cli"), subject=args.role
                )
            return token
        finally:
            await database.dispose()

    print(asyncio.run(run()))
    return 0


def _erase_expired(_args: argparse.Namespace) -> int:
    """The retention rule now (servers also run it hourly): erase personal data past conference.retention_days."""
    from conference.core import errors
    from conference.core.db import Database
    from conference.core.migrate import upgrade
    from conference.personal_data import erase_expired

    settings = load_settings()
    upgrade(settings.database_url)

    async def run() -> int:
        database = Database.from_settings(settings)
        try:
            return await erase_expired(database, settings)
        finally:
            await database.dispose()

    try:
        erased = asyncio.run(run())
    except errors.NotFound as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"erased the personal data of {erased} registration{'' if erased == 1 else 's'}")
    return 0


def _backup_command(args: argparse.Namespace) -> int:
    """A consistent copy of the whole database while the servers run (docs/deploy.md#backups)."""
    from conference.server import backup

    settings = load_settings()
    try:
        result = backup.backup(settings.database_url, Path(args.out))
    except backup.BackupError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2 if exc.usage else 1
    except Exception as exc:  # noqa: BLE001 - one line for the operator, not a traceback
        print(f"error: backup failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"backed up the {result.kind} database {result.detail} (schema {result.revision}) to {result.path}: "
        f"{result.size:,} bytes",
        file=sys.stderr,
    )
    return 0


def _restore_command(args: argparse.Namespace) -> int:
    """Replace the configured database with a backup, then migrate it to the current schema."""
    from conference.server import backup

    settings = load_settings()
    try:
        result = backup.restore(settings.database_url, Path(args.file), force=args.force)
    except backup.BackupError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2 if exc.usage else 1
    except Exception as exc:  # noqa: BLE001 - one line for the operator, not a traceback
        print(f"error: restore failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {args.file} into the {result.kind} database {result.detail}; schema now at {result.revision}",
        file=sys.stderr,
    )
    return 0


class _Terminated(BaseException):
    """SIGTERM reached `conference serve` itself (see `_serve`)."""


def _terminated(signum: int, _frame: object) -> None:
    raise _Terminated(signum)


def _serve(args: argparse.Namespace) -> int:
    """Run uvicorn. Called by `main` before anything else is imported (see the metrics directory below)."""
    import os
    import shutil
    import signal
    import tempfile

    from conference.core.settings import check_serving

    settings = load_settings()
    check_serving(settings, args.host)  # no public development secret beyond this machine
    # Metrics from every worker process (conference/core/metrics.py): a fresh directory for this instance, named in
    # the environment before anything imports prometheus_client and before uvicorn starts the workers, which
    # inherit it. Stale files from an earlier run would add old counts, so it is never reused; directories
    # left by instances that were killed outright (their pid is in the name) are removed.
    for stale in Path(tempfile.gettempdir()).glob("conference-metrics-*-*"):
        pid = stale.name.split("-")[2]
        try:
            os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except (ValueError, OSError):
            pass  # not one of ours, or a live process of another user
    metrics_dir = tempfile.mkdtemp(prefix=f"conference-metrics-{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # On SIGTERM a single-process uvicorn shuts down gracefully, puts back the handler it found and raises the
    # signal again; with the default handler the process would end there, before the `finally` below, leaving the
    # directory behind. This handler turns that into an exception, so the directory goes, and then the signal is
    # raised once more to end the process as uvicorn meant (several workers: uvicorn's supervisor returns).
    previous = signal.signal(signal.SIGTERM, _terminated)
    stopped_by: int | None = None
    try:
        import uvicorn

        from conference.core.logs import log_config
        from conference.core.migrate import upgrade

        upgrade(settings.database_url)
        uvicorn.run(
            "conference.server.app:serve_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            log_config=log_config(args.log_level),  # every log line one JSON object (conference/core/logs.py)
            log_level=args.log_level,
            access_log=args.access_log,
            # Slow and greedy clients. httptools plus what it lacks (conference/web/httpguard.py): a request's line
            # and headers must arrive within 10 s and fit in 16 KiB (h11's own limit; uvicorn's
            # h11_max_incomplete_event_size does nothing under httptools). Idle keep-alive connections close
            # after --timeout-keep-alive; over --limit-concurrency connections or requests at once a worker
            # answers 503 at once instead of queueing without bound; a stop waits at most 30 s for requests.
            http="conference.web.httpguard:GuardedHttpToolsProtocol",
            timeout_keep_alive=args.timeout_keep_alive,
            limit_concurrency=args.limit_concurrency or None,
            timeout_graceful_shutdown=30,
        )
    except _Terminated as stop:
        stopped_by = int(stop.args[0])
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
    if stopped_by is not None:
        signal.raise_signal(stopped_by)  # the default action: the process ends by the signal, as before
    return 0


def _demo(args: argparse.Namespace) -> int:
    from conference.core.db import Database
    from conference.core.migrate import upgrade
    from conference.server.demo import load_demo
    from sessions.demo import book_demo_seats, load_demo_programme

    settings = load_settings()
    upgrade(settings.database_url)

    async def run() -> str:
        summary = await load_demo(settings, attendees=args.attendees, reset=args.reset, seed=args.seed)
        database = Database.from_settings(settings)
        finished = ""
        try:
            sessions = await load_demo_programme(database)
            seats = await book_demo_seats(database, settings, seed=args.seed) if args.attendees else 0
            if args.finished:  # the event moved into the past and played out (sessions/after_demo.py)
                from sessions.after_demo import finish_demo

                finished = await finish_demo(database, settings, seed=args.seed)
        finally:
            await database.dispose()
        done = f"{summary}\ndemo: {sessions} sessions in the programme, {seats} workshop seats booked"
        return f"{done}\n{finished}" if finished else done

    print(asyncio.run(run()), file=sys.stderr)
    return 0


def _badges_print(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from badges.codes import signer_for
    from badges.printing import badge_data, mark_printed
    from badges.render import LAYOUTS, render_badges
    from conference.core import audit
    from conference.core.db import Database
    from conference.core.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    signer = signer_for(settings)
    layout = LAYOUTS[args.layout]

    async def run() -> int:
        database = Database.from_settings(settings)
        try:
            async with database.read() as db:
                badges = await badge_data(
                    db,
                    signer,
                    ticket_type=args.ticket_type,
                    organisation=args.organisation,
                    not_printed=args.not_printed,
                )
            if not badges:
                print("no confirmed registrations match: nothing to print", file=sys.stderr)
                return 1
            # Rendering blocks the loop, which has nothing else to do here.
            with tqdm(total=len(badges), unit="badge", desc="badges", file=sys.stderr) as bar:
                pdf = render_badges(badges, layout=layout.name, progress=bar.update)
            Path(args.out).write_bytes(pdf)
            async with database.transaction() as db:
                marked = await mark_printed(
                    db, [b.registration_id for b in badges if b.registration_id], actor=audit.Actor("cli")
                )
        finally:
            await database.dispose()
        pages = -(-len(badges) // layout.per_page)
        print(
            f"{len(badges)} badges on {pages} pages written to {args.out}; {marked} marked printed",
            file=sys.stderr,
        )
        return 0

    return asyncio.run(run())


def _certificates_issue(args: argparse.Namespace) -> int:
    """Issue (or correct) every certificate of attendance now, with a progress bar (sessions/attendance/bulk.py)."""
    from tqdm import tqdm

    from conference.core import audit, errors
    from conference.core.db import Database
    from conference.core.migrate import upgrade
    from conference.places import get_conference
    from sessions.attendance import bulk

    settings = load_settings()
    upgrade(settings.database_url)
    actor = audit.Actor("cli")

    async def run() -> int:
        database = Database.from_settings(settings)
        try:
            async with database.transaction() as db:
                conference = await get_conference(db)
                assert conference.id is not None
                started = await bulk.start_run(db, conference_id=conference.id, actor=actor)
            with tqdm(total=started.total, unit="delegate", desc="certificates", file=sys.stderr) as bar:

                def progress(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                run = await bulk.run_issue(
                    database, settings, run_id=started.id, actor=actor, progress=progress, batch=args.batch
                )
        except errors.DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        finally:
            await database.dispose()
        if run.error:
            print(f"error: {run.error}", file=sys.stderr)
            return 1
        print(
            f"{run.done} delegates considered; {run.issued} certificates issued or corrected "
            "(PDFs are made when downloaded or emailed)",
            file=sys.stderr,
        )
        return 0

    return asyncio.run(run())


def _schedule_solve(args: argparse.Namespace) -> int:
    from sessions.schedule.command import solve_command

    return solve_command(
        instance=args.instance,
        out=args.out,
        time_limit=args.time_limit,
        threads=args.threads,
        seed=args.seed,
        previous=args.previous,
        stability=not args.no_stability,
        bound=not args.no_bound,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conference", description="National conference registration and programme."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service (migrates the database first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="also uvicorn's own access log (raw paths, which hold private links, and client "
        "addresses): for debugging only; the JSON request log is always on at info level",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="info (default) logs one line per request; warning leaves only problems",
    )
    serve.add_argument(
        "--limit-concurrency",
        type=int,
        default=1000,
        metavar="N",
        help="per worker: over N connections or requests at once, answer 503 (default 1000; 0: no limit)",
    )
    serve.add_argument(
        "--timeout-keep-alive",
        type=int,
        default=5,
        metavar="SECONDS",
        help="close an idle keep-alive connection after this (default 5)",
    )
    serve.set_defaults(func=_serve)

    demo = commands.add_parser(
        "demo", help="load the demo event: the two-day national conference in December"
    )
    demo.add_argument("--attendees", type=int, default=0, help="add N synthetic delegates")
    demo.add_argument("--reset", action="store_true", help="delete everything first")
    demo.add_argument("--seed", type=int, default=2026, help="random seed for the synthetic delegates")
    demo.add_argument(
        "--finished",
        action="store_true",
        help="then move the event into the past and play it out: scans, certificates, feedback, library",
    )
    demo.set_defaults(func=_demo)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply all migrations").set_defaults(func=_db_upgrade)

    token = commands.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="make an API token and print it (only its hash is stored)")
    create.add_argument("--role", required=True, choices=["staff", "organiser"])
    create.add_argument("--name", default="")
    create.set_defaults(func=_token_create)

    cli_users.add_commands(commands)  # user add, user reset-password

    bkp = commands.add_parser(
        "backup",
        help="copy the whole database to one file, consistently, while the "
        "servers run (SQLite: online backup; PostgreSQL: pg_dump -Fc)",
    )
    bkp.add_argument("--out", required=True, help="the backup file to write (replaced atomically)")
    bkp.set_defaults(func=_backup_command)
    rst = commands.add_parser(
        "restore",
        help="replace the configured database with a backup, then migrate it (stop the servers first)",
    )
    rst.add_argument("file", help="a file written by `conference backup`")
    rst.add_argument("--force", action="store_true", help="replace a database that already holds data")
    rst.set_defaults(func=_restore_command)

    commands.add_parser(
        "erase-expired",
        help="erase delegates' personal data once the conference's retention period "
        "has passed (servers also do this hourly)",
    ).set_defaults(func=_erase_expired)

    badges = commands.add_parser("badges", help="badge print runs").add_subparsers(
        dest="badges_command", required=True
    )
    bprint = badges.add_parser(
        "print", help="render confirmed delegates' badges to a PDF, sorted by surname, and mark them printed"
    )
    bprint.add_argument("--out", required=True, help="the PDF file to write")
    bprint.add_argument("--ticket-type", default=None, help="only this ticket type (its name, any case)")
    bprint.add_argument("--organisation", default=None, help="only this organisation (exact, any case)")
    bprint.add_argument("--not-printed", action="store_true", help="only badges not printed before")
    bprint.add_argument(
        "--layout",
        choices=["a4-8", "a6-4"],
        default="a4-8",
        help="a4-8: 8 badges of 90x55 mm per A4; a6-4: 4 A6 badges per A4",
    )
    bprint.set_defaults(func=_badges_print)

    certificates = commands.add_parser(
        "certificates", help="certificates of attendance (after the event)"
    ).add_subparsers(dest="certificates_command", required=True)
    cissue = certificates.add_parser(
        "issue",
        help="issue a certificate to every delegate whose attendance is verified; correct changed ones, "
        "withdraw those no longer verified",
    )
    cissue.add_argument("--batch", type=int, default=100, help="delegates per transaction (default 100)")
    cissue.set_defaults(func=_certificates_issue)

    schedule = commands.add_parser("schedule", help="the programme scheduler").add_subparsers(
        dest="schedule_command", required=True
    )
    ssolve = schedule.add_parser(
        "solve",
        help="schedule a problem in the benchmark JSON format "
        "(conference-scheduling-instance/1) and write the placement",
    )
    ssolve.add_argument("--instance", required=True, help="the instance JSON")
    ssolve.add_argument("--time-limit", type=float, default=30.0, help="seconds (default 30)")
    ssolve.add_argument("--threads", type=int, default=2, help="CP-SAT workers (default 2)")
    ssolve.add_argument("--seed", type=int, default=1)
    ssolve.add_argument("--previous", help="a published placement (JSON): move as few sessions as possible")
    ssolve.add_argument("--no-stability", action="store_true", help="with --previous: optimise freely")
    ssolve.add_argument(
        "--no-bound", action="store_true", help="skip the lower bound (all time to the search)"
    )
    ssolve.add_argument("-o", "--out", required=True, help="the placement JSON (evaluate.py reads it)")
    ssolve.set_defaults(func=_schedule_solve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            # First, before anything imports prometheus_client: serve names its metrics directory in the
            # environment (the app installs the hooks below itself, in each worker).
            served: int = _serve(args)
            return served
        # Imported here, not at the top, so that `--help` and quick commands don't load the web stack first.
        from conference.server import plugins

        plugins.install()
        result: int = args.func(args)
    except SettingsError as exc:  # a missing or unsafe setting: one line that says which, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
