"""`conference user …`: console accounts from the command line, for whoever runs the server.

`user add` makes an account (the first organiser's, on a new install); `user reset-password` gets an organiser
who has lost their password back in: it prints a one-time link to choose a new one, or sets one read from a
prompt or standard input (never from the command line, where other users of the machine could read it in the
process list and it would stay in the shell's history). Both are audited with the actor `cli`.

Exit status: 0 done, 1 no such account (or it is disabled), 2 wrong use (a refused password or email).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from conference.core.settings import load_settings


def _fields(exc: Any) -> int:
    """Print an InvalidInput's problems, one `error: field: problem` line each; the exit status for them."""
    for field, message in (exc.fields or {"form": exc.message}).items():
        print(f"error: {field}: {message}", file=sys.stderr)
    return 2


def _user_add(args: argparse.Namespace) -> int:
    """The first organiser's account (and any other): with --password-stdin the password is read from standard
    input (scripts); otherwise an invitation link is printed, and emailed when a mail server is configured."""
    from conference import accounts
    from conference.core import audit, errors
    from conference.core.db import Database
    from conference.core.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if password is not None and (problem := accounts.password_problem(password, email=args.email)):
        print(f"error: password: {problem}", file=sys.stderr)
        return 2

    async def run() -> str | None:
        database = Database.from_settings(settings)
        try:
            async with database.transaction() as db:
                actor = audit.Actor("cli")
                user = await accounts.add_user(
                    db,
                    settings,
                    email=args.email,
                    role=args.role,
                    name=args.name,
                    actor=actor,
                    invite=password is None,
                )
                if password is not None:
                    await accounts.set_password(db, user, password, actor=actor)
                    return None
                reset = await accounts.latest_reset(db, user.id)
                return accounts.reset_url(settings, reset.id) if reset is not None else None
        finally:
            await database.dispose()

    try:
        link = asyncio.run(run())
    except errors.InvalidInput as exc:
        return _fields(exc)
    if link:
        print(f"{args.email} ({args.role}) can choose a password here within 48 hours:\n{link}")
    else:
        print(f"{args.email} ({args.role}) can sign in at {settings.base_url}/login")
    return 0


def _new_password(args: argparse.Namespace) -> str | None:
    """The password to set: typed twice at a prompt (--prompt), or a line of standard input (--password-stdin);
    None to print a link instead. Raises ValueError when the two typed differ."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.prompt:
        first = getpass.getpass("New password: ")
        if getpass.getpass("The same again: ") != first:
            raise ValueError("the two passwords are not the same")
        return first
    return None


def _reset_password(args: argparse.Namespace) -> int:
    """A lost password: a one-time link to choose a new one (printed, not emailed), or the new password itself."""
    from conference import accounts
    from conference.core import audit, errors
    from conference.core.db import Database
    from conference.core.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    try:
        password = _new_password(args)
    except ValueError as exc:
        print(f"error: password: {exc}", file=sys.stderr)
        return 2
    if password is not None and (problem := accounts.password_problem(password, email=args.email)):
        print(f"error: password: {problem}", file=sys.stderr)
        return 2

    async def run() -> tuple[str, str | None]:
        database = Database.from_settings(settings)
        try:
            async with database.transaction() as db:
                user, reset = await accounts.reset_from_command_line(
                    db, settings, email=args.email, password=password, actor=audit.Actor("cli")
                )
                return user.role, accounts.reset_url(settings, reset.id) if reset is not None else None
        finally:
            await database.dispose()

    try:
        role, link = asyncio.run(run())
    except errors.InvalidInput as exc:
        return _fields(exc)
    except errors.DomainError as exc:  # no such account, or a disabled one
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    if link:
        hours = int(accounts.RESET_VALID.total_seconds() // 3600)
        print(
            f"{args.email} ({role}) can choose a new password here; the link works once, within {hours} "
            f"hour{'s' if hours != 1 else ''}:\n{link}"
        )
    else:
        print(f"{args.email} ({role}) has a new password and can sign in at {settings.base_url}/login")
    return 0


def add_commands(commands: Any) -> None:
    """`conference user …` on the command's subparsers (conference/server/cli.py)."""
    user = commands.add_parser("user", help="console accounts").add_subparsers(
        dest="user_command", required=True
    )
    uadd = user.add_parser(
        "add", help="make an organiser's or staff account; prints a link to choose its password"
    )
    uadd.add_argument("email")
    uadd.add_argument("--role", required=True, choices=["organiser", "staff"])
    uadd.add_argument("--name", default="")
    uadd.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input instead"
    )
    uadd.set_defaults(func=_user_add)

    ureset = user.add_parser(
        "reset-password",
        help="a lost password: print a one-time link to choose a new one (or set one with --prompt or "
        "--password-stdin); signs the account out everywhere once the password changes",
    )
    ureset.add_argument("email")
    how = ureset.add_mutually_exclusive_group()
    how.add_argument("--prompt", action="store_true", help="type the new password (twice) instead of a link")
    how.add_argument(
        "--password-stdin", action="store_true", help="read the new password from standard input"
    )
    ureset.set_defaults(func=_reset_password)
