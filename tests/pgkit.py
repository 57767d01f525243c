"""Helpers of the pg tier: a private PostgreSQL server in a temp folder, started and stopped with pg_ctl."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
# Speed over durability against an OS crash: a test server only meets process crashes (restart(immediate)),
# and with fsync off every write() still reaches the page cache, which survives those. synchronous_commit
# stays on: off, a COMMIT returns while its WAL is only in shared memory, and restart(immediate) loses it.
SERVER_OPTIONS = "-c fsync=off -c full_page_writes=off -c max_connections=200"
ROOT_PREFIX = "benchd-pg-"  # + the owner's pid: a crashed session's server is found and stopped by the next one


def find_bindir() -> Path | None:
    """The folder with initdb, pg_ctl and postgres: pg_config's (libpq-dev's pg_config may name one without the
    server), then Debian's newest /usr/lib/postgresql/N/bin, then PATH."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(debian, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)], reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    return next((d for d in candidates if all(os.access(d / t, os.X_OK) for t in SERVER_TOOLS)), None)


def server_user() -> str | None:
    """Who runs initdb and the server: initdb refuses root, so as root the `postgres` system user; else
    ourselves. None when root and there is no postgres user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        return None


class PgServer:
    """One PostgreSQL server on 127.0.0.1:port, trust auth for `postgres`, its socket and data in `root`."""

    host = "127.0.0.1"

    def __init__(self, bindir: Path, user: str, root: Path) -> None:
        self.bindir, self.user, self.root = bindir, user, root
        self.datadir = root / "data"
        self.logfile = root / "server.log"
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self, attempts: int = 3) -> None:
        """initdb, then pg_ctl start on a free port (another one if that port is taken in between)."""
        if not self.datadir.exists():
            self._run("initdb", "-D", self.datadir, "--auth=trust", "-U", "postgres", "--encoding=UTF8",
                      "--locale=C", "--no-sync")
        for _ in range(attempts):
            self.port = free_port()
            done = self._pg_ctl("start")
            if done.returncode == 0:
                return
            if "already in use" not in self.log_tail():
                break
        raise RuntimeError(f"PostgreSQL did not start (pg_ctl exit {done.returncode}): {done.stderr.strip()}\n"
                           f"-- {self.logfile} --\n{self.log_tail()}")

    def restart(self, mode: str = "immediate") -> None:
        """Stop (immediate: a crash, no checkpoint; every connection dropped) and start again, ready."""
        done = self._pg_ctl("restart", "-m", mode)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart -m {mode} failed: {done.stderr.strip()}\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop; the postmaster is killed if that fails (its children follow it)."""
        if self._pg_ctl("stop", "-m", mode).returncode != 0:
            stop_by_pidfile(self.datadir)

    def _pg_ctl(self, action: str, *args: str) -> subprocess.CompletedProcess[str]:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses={self.host} {SERVER_OPTIONS}"
        if action == "stop":
            return self._run("pg_ctl", action, "-D", self.datadir, "-w", "-t", "60", *args, check=False)
        return self._run("pg_ctl", action, "-D", self.datadir, "-w", "-t", "60", "-l", self.logfile, "-o", opts,
                         *args, check=False)

    def _run(self, tool: str, *args: Any, check: bool = True) -> subprocess.CompletedProcess[str]:
        as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            as_user = {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}
        done = subprocess.run([str(self.bindir / tool), *map(str, args)], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=120, **as_user)
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    # -- use -------------------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str) -> None:
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drops it even with connections left open (a test's leak, a frozen relay's)."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no server log)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_by_pidfile(datadir: Path) -> None:
    """SIGKILL the postmaster named in postmaster.pid: its backends exit when they see it gone."""
    try:
        os.kill(int((datadir / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        pass


def make_root(user: str) -> Path:
    """A short folder in /tmp (a unix socket path has 108 bytes), for the server user; a previous session's
    folder whose owner process is gone is swept first, with its server."""
    for old in Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*"):
        owner = re.match(rf"{ROOT_PREFIX}(\d+)-", old.name)
        if owner and not _alive(int(owner[1])):
            stop_by_pidfile(old / "data")
            shutil.rmtree(old, ignore_errors=True)
    root = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-"))
    entry = pwd.getpwnam(user)
    os.chown(root, entry.pw_uid, entry.pw_gid)  # initdb makes data/ in it, the server its socket
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
