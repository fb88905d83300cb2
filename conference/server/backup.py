"""`conference backup` and `conference restore`: one file holding the whole database, taken while it is in use.

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`) copies every page in one step inside one read
transaction, so the copy is the database as of one commit while the servers go on writing (WAL lets readers
and the writer run together). The copy is turned into a single self-contained file (rollback journal, not
WAL) and integrity-checked before it is renamed into place.

PostgreSQL: `pg_dump --format=custom` (a snapshot at one instant, whatever the servers write meanwhile) and
`pg_restore --clean --if-exists --no-owner --single-transaction` (all or nothing). The connection comes from
CONFERENCE_DATABASE_URL and is handed to them in PGHOST/PGPORT/PGUSER/PGDATABASE (and PGPASSWORD), so no
password ever appears on a command line or in `ps`.

A backup file is the database's own format, so it says what it is: a SQLite file starts "SQLite format 3\\0",
a custom-format dump "PGDMP". Restore reads those bytes and refuses a file of the other kind. It refuses a
target that holds data unless forced, and applies the migrations afterwards, so an older backup comes up to
the current schema.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.engine import URL

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
KIND_NAMES = {
    "sqlite": "a SQLite database file",
    "postgresql": "a PostgreSQL custom-format dump (pg_dump -Fc)",
}
# Tables that a freshly migrated, never used database already has rows in.
_EMPTY_ANYWAY = {"alembic_version"}


class BackupError(Exception):
    """A failure to report in one line; `usage` ones (exit 2) are the caller's to fix, the others (exit 1) not."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@dataclass(frozen=True)
class Result:
    kind: str
    path: Path
    size: int
    revision: str | None
    detail: str = ""


def kind_of_url(database_url: str) -> str:
    name = make_url(database_url).get_backend_name()
    if name in {"sqlite", "postgresql"}:
        return name
    raise BackupError(
        f"CONFERENCE_DATABASE_URL: backups support sqlite and postgresql databases, not {name!r}", usage=True
    )


def kind_of_file(path: Path) -> str | None:
    """What a backup file is, from its first bytes: "sqlite", "postgresql" or None."""
    with open(path, "rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    return None


# --- SQLite ------------------------------------------------------------------------------------------------


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(
            "CONFERENCE_DATABASE_URL: an in-memory SQLite database has nothing to back up or restore "
            "into; name a file (sqlite:///./conference.db)",
            usage=True,
        )
    return Path(database)


def _has_data_sqlite(connection: sqlite3.Connection) -> bool:
    tables = [
        r[0]
        for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return any(
        connection.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()
        for t in tables
        if t not in _EMPTY_ANYWAY
    )


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def _read_only(path: Path) -> str:
    """A URI that opens the file read-only and never creates it (percent-encoded: any file name works)."""
    return path.resolve().as_uri() + "?mode=ro"


def _temp_beside(target: Path, suffix: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    return Path(name)


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


def _backup_sqlite(database_url: str, out: Path) -> Result:
    source_path = _sqlite_path(database_url)
    if not source_path.is_file():
        raise BackupError(f"the SQLite database {source_path} does not exist: nothing to back up")
    temp = _temp_beside(out, ".partial")
    try:
        source = sqlite3.connect(_read_only(source_path), uri=True, timeout=30)
        try:
            destination = sqlite3.connect(temp)
            try:
                # pages=-1 (the default): every page in one step, under one read transaction, so the copy is one
                # commit's state; writers in WAL mode are not held up while it runs.
                source.backup(destination)
                # The copy inherits WAL mode from the source's header: make it one self-contained file.
                destination.execute("PRAGMA journal_mode=DELETE").fetchall()
                if (check := destination.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                    raise BackupError(f"the copy of {source_path} failed SQLite's quick_check: {check}")
                revision = _sqlite_revision(destination)
            finally:
                destination.close()
        finally:
            source.close()
        if revision is None:
            raise BackupError(
                f"{source_path} is not a conference database (no alembic_version table): "
                "check CONFERENCE_DATABASE_URL"
            )
        os.replace(temp, out)
    except sqlite3.Error as exc:
        raise BackupError(f"could not back up {source_path}: {exc}") from None
    finally:
        _remove(temp)
    return Result("sqlite", out, out.stat().st_size, revision, detail=str(source_path))


def _restore_sqlite(database_url: str, backup: Path, *, force: bool) -> Result:
    from conference.core.migrate import upgrade

    target = _sqlite_path(database_url)
    temp = _temp_beside(target, ".restoring")
    try:
        # A working copy of the backup beside the target (same file system, so the rename is atomic), checked
        # and migrated before it replaces anything: a failure here leaves the target as it was.
        try:
            source = sqlite3.connect(_read_only(backup), uri=True)
            try:
                copy = sqlite3.connect(temp)
                try:
                    source.backup(copy)
                    copy.execute("PRAGMA journal_mode=DELETE").fetchall()
                    if (check := copy.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                        raise BackupError(f"{backup} is damaged (SQLite's quick_check: {check})", usage=True)
                    if _sqlite_revision(copy) is None:
                        raise BackupError(
                            f"{backup} is a SQLite file but not a conference backup "
                            "(no alembic_version table)",
                            usage=True,
                        )
                finally:
                    copy.close()
            finally:
                source.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{backup} could not be read as a SQLite database: {exc}", usage=True) from None
        upgrade(f"sqlite+aiosqlite:///{temp}")
        with sqlite3.connect(temp) as copy:
            revision = _sqlite_revision(copy)
            copy.execute("PRAGMA journal_mode=DELETE").fetchall()  # migrations leave no WAL behind
        copy.close()
        if target.exists():
            _take_over_sqlite(target, force=force)
            os.chmod(temp, target.stat().st_mode & 0o777)  # the service's file mode, not mkstemp's 0600
        os.replace(temp, target)
    finally:
        _remove(temp)
    return Result("sqlite", target, target.stat().st_size, revision, detail=str(target))


def _take_over_sqlite(target: Path, *, force: bool) -> None:
    """Refuse a target with data (unless forced) or one a server has open; fold its WAL in so none is left over.

    Leaving WAL mode needs the only connection to the file: if a `conference serve` still has it open, this
    fails and the restore stops, rather than renaming a file under a running server. A -wal file left beside
    the new database would otherwise be replayed into it.
    """
    try:
        connection = sqlite3.connect(target, timeout=2, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"could not open {target}: {exc}") from None
    try:
        try:
            has_data = _has_data_sqlite(connection)
        except sqlite3.DatabaseError as exc:
            if not force:
                raise BackupError(
                    f"{target} exists but is not a readable SQLite database ({exc}); "
                    "add --force to replace it",
                    usage=True,
                ) from None
            return
        if has_data and not force:
            raise BackupError(
                f"{target} already holds data; add --force to replace it with the backup", usage=True
            )
        try:
            mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        except sqlite3.OperationalError:
            mode = "busy"
        if mode != "delete":
            raise BackupError(
                f"{target} is in use (a `conference serve` has it open?): stop the servers, then restore"
            )
    finally:
        connection.close()


# --- PostgreSQL --------------------------------------------------------------------------------------------


def _pg_env(database_url: str) -> dict[str, str]:
    """libpq's environment for the URL: nothing of it on the command line."""
    url: URL = make_url(database_url)
    env = dict(os.environ)  # PGSSLROOTCERT, PGPASSFILE and the like still apply
    query = {k: (v if isinstance(v, str) else v[-1]) for k, v in url.query.items()}
    if not url.database:
        raise BackupError(
            "CONFERENCE_DATABASE_URL names no database (postgresql://user@host:5432/DBNAME)", usage=True
        )
    env["PGDATABASE"] = url.database
    host = url.host or query.get("host")
    if host:
        env["PGHOST"] = host
    if url.port or query.get("port"):
        env["PGPORT"] = str(url.port or query.get("port"))
    if url.username:
        env["PGUSER"] = url.username
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    ssl = query.get("sslmode") or query.get("ssl")
    if ssl:
        env["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl.lower(), ssl)
    env["PGCONNECT_TIMEOUT"] = env.get("PGCONNECT_TIMEOUT", "10")
    env["PGAPPNAME"] = "conference-backup"
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: PostgreSQL backups need the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client), of the server's major version "
            "or newer"
        )
    return path


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    # --no-password: never wait for a prompt (cron and CI have no terminal); a missing password is an error.
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what} failed: " + ("; ".join(lines[-3:]) or f"exit status {done.returncode}"))
    return done.stdout


async def _pg_query(database_url: str, sql: str, fetch: bool) -> list[tuple[object, ...]]:
    import asyncpg

    url = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=10)
    try:
        if not fetch:
            await connection.execute(sql)
            return []
        return [tuple(r) for r in await connection.fetch(sql)]
    finally:
        await connection.close()


def _pg(database_url: str, sql: str, *, fetch: bool = True) -> list[tuple[object, ...]]:
    try:
        return asyncio.run(_pg_query(database_url, sql, fetch))
    except (TimeoutError, OSError) as exc:
        raise BackupError(f"could not connect to PostgreSQL ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # noqa: BLE001 - asyncpg's errors: reported in one line
        raise BackupError(f"PostgreSQL: {type(exc).__name__}: {exc}") from None


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"


def _pg_revision(database_url: str) -> str | None:
    if not _pg(
        database_url,
        "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'alembic_version'",
    ):
        return None
    rows = _pg(database_url, "SELECT version_num FROM alembic_version")
    return str(rows[0][0]) if rows else None


def _backup_postgresql(database_url: str, out: Path) -> Result:
    env = _pg_env(database_url)
    pg_dump = _pg_tool("pg_dump")
    revision = _pg_revision(database_url)
    if revision is None:
        raise BackupError(
            f"database {env['PGDATABASE']} is not a conference database (no alembic_version "
            "table): check CONFERENCE_DATABASE_URL"
        )
    temp = _temp_beside(out, ".partial")
    try:
        # One snapshot (pg_dump's repeatable-read transaction) whatever the servers write meanwhile.
        _run([pg_dump, "--format=custom", "--no-password", f"--file={temp}"], env, "pg_dump")
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    return Result("postgresql", out, out.stat().st_size, revision, detail=env["PGDATABASE"])


def _dump_contents(pg_restore: str, backup: Path, env: dict[str, str]) -> tuple[set[str], set[str]]:
    """The tables and functions a dump holds (from `pg_restore --list`), which also proves it is readable."""
    listing = _run([pg_restore, "--list", str(backup)], env, f"reading {backup}")
    tables: set[str] = set()
    functions: set[str] = set()
    for line in listing.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        # "215; 1259 16390 TABLE public registration postgres"
        parts = line.split()
        if len(parts) >= 6 and parts[3] == "TABLE" and parts[4] != "DATA":
            tables.add(parts[5])
        elif len(parts) >= 6 and parts[3] == "FUNCTION":
            functions.add(parts[5].split("(")[0])
    return tables, functions


def _restore_postgresql(database_url: str, backup: Path, *, force: bool) -> Result:
    from conference.core.migrate import upgrade

    env = _pg_env(database_url)
    pg_restore = _pg_tool("pg_restore")
    try:
        tables, functions = _dump_contents(pg_restore, backup, env)
    except BackupError as exc:
        raise BackupError(
            f"{backup} is not a readable pg_dump custom-format file ({exc.message})", usage=True
        ) from None
    if "alembic_version" not in tables:
        raise BackupError(
            f"{backup} is a PostgreSQL dump but not of a conference database (no alembic_version table)",
            usage=True,
        )
    present = [str(r[0]) for r in _pg(database_url, _TABLES)]
    if not force:
        counts = " UNION ALL ".join(
            f'(SELECT 1 FROM "{t}" LIMIT 1)' for t in present if t not in _EMPTY_ANYWAY
        )
        if counts and _pg(database_url, counts):
            raise BackupError(
                f"database {env['PGDATABASE']} already holds data; add --force to replace it with the backup",
                usage=True,
            )
    # What --clean cannot drop because the dump doesn't know it (tables of a newer schema than the backup's)
    # would be in the way of the migrations that bring the backup up to date: drop it first.
    extra_tables = [t for t in present if t not in tables]
    extra_functions = [
        str(r[0])
        for r in _pg(
            database_url,
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema()",
        )
        if str(r[0]) not in functions
    ]
    if extra_tables or extra_functions:
        drops = [f'DROP TABLE IF EXISTS "{t}" CASCADE' for t in extra_tables]
        drops += [f'DROP FUNCTION IF EXISTS "{f}" CASCADE' for f in extra_functions]
        _pg(database_url, "BEGIN; " + "; ".join(drops) + "; COMMIT", fetch=False)
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={env['PGDATABASE']}",
            str(backup),
        ],
        env,
        "pg_restore",
    )
    upgrade(database_url)
    return Result(
        "postgresql", backup, backup.stat().st_size, _pg_revision(database_url), detail=env["PGDATABASE"]
    )


# --- the commands ------------------------------------------------------------------------------------------


def backup(database_url: str, out: Path) -> Result:
    if out.is_dir():
        raise BackupError(f"--out {out} is a directory: name the backup file", usage=True)
    if kind_of_url(database_url) == "sqlite":
        return _backup_sqlite(database_url, out)
    return _backup_postgresql(database_url, out)


def restore(database_url: str, backup_file: Path, *, force: bool = False) -> Result:
    kind = kind_of_url(database_url)
    if not backup_file.is_file():
        raise BackupError(f"{backup_file}: no such file", usage=True)
    found = kind_of_file(backup_file)
    if found is None:
        raise BackupError(
            f"{backup_file} is not a conference backup: expected {KIND_NAMES['sqlite']} or "
            f"{KIND_NAMES['postgresql']}",
            usage=True,
        )
    if found != kind:
        raise BackupError(
            f"{backup_file} is {KIND_NAMES[found]}, but CONFERENCE_DATABASE_URL is a {kind} "
            f"database: restore it into a {found} database",
            usage=True,
        )
    if kind == "sqlite":
        if _sqlite_path(database_url).resolve() == backup_file.resolve():
            raise BackupError(f"{backup_file} is the configured database itself", usage=True)
        return _restore_sqlite(database_url, backup_file, force=force)
    return _restore_postgresql(database_url, backup_file, force=force)
