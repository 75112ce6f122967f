"""A real PostgreSQL cluster for the tests: initdb + pg_ctl as the `postgres` user in a
temporary directory, on a free port, listening where the hub container can reach it (the
gateway address of the app's Docker network).

Debian's `postgresql` package (installed by the test command) provides the binaries; the
system cluster is not touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def bindir() -> Path | None:
    """The newest installed server's bin directory (`/usr/lib/postgresql/<v>/bin`)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
    return Path(found[-1]).parent if found else None


def available() -> str | None:
    """None when a cluster can be started here, else why not."""
    if bindir() is None:
        return "PostgreSQL server binaries missing (apt-get install postgresql)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres system user (apt-get install postgresql)"
    if os.geteuid() != 0:
        return "starting a cluster as the postgres user needs root"
    return None


def psql(where: dict, sql: str, db: str = "postgres") -> str:
    """SQL as the superuser over the cluster's Unix socket (trusted: local connections only,
    the socket directory is the cluster's private one); returns unaligned rows."""
    proc = subprocess.run(
        [str(Path(where["bindir"]) / "psql"), "-h", str(where["socket_dir"]), "-p",
         str(where["port"]), "-U", "postgres", "-d", db, "-X", "-q", "-A", "-t",
         "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"psql failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def provision(where: dict, user: str, password: str, name: str) -> Database:
    """The role (password set) and database, made when missing: what a service create did."""
    for ident in (name, user):
        if not _IDENT_RE.match(ident):
            raise ValueError(f"not a plain PostgreSQL identifier: {ident!r}")
    literal = password.replace("'", "''")
    exists = psql(where, f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'").strip()
    verb = "ALTER" if exists else "CREATE"
    psql(where, f"{verb} ROLE {user} LOGIN PASSWORD '{literal}'")
    if not psql(where, f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip():
        psql(where, f"CREATE DATABASE {name} OWNER {user}")
    return Database(user, password, name)


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Database:
    user: str
    password: str
    name: str


class Cluster:
    """`with Cluster(listen=["172.30.0.1"]) as pg:` then `pg.create_database(...)`."""

    def __init__(self, listen: list[str] | None = None, port: int | None = None,
                 allow_cidrs: list[str] | None = None) -> None:
        self.listen = listen or ["127.0.0.1"]
        self.port = port or free_port(self.listen[0])
        self.allow_cidrs = allow_cidrs or []
        self.bin = bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="djh-pg-"))
        self.data = self.dir / "data"
        self.superpass = secrets.token_urlsafe(16)
        self.running = False

    def _as_postgres(self, *cmd: str, input: str | None = None) -> str:
        proc = subprocess.run(
            ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd],
            input=input, capture_output=True, text=True, cwd=self.dir,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {proc.stderr.strip()[-2000:]}")
        return proc.stdout

    def start(self) -> Cluster:
        reason = available()
        if reason:
            raise RuntimeError(reason)
        pw = pwd.getpwnam("postgres")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        # Traversable: the deploy hook (the dokku user) provisions through the socket here.
        self.dir.chmod(0o755)
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.superpass + "\n")
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        pwfile.chmod(0o600)
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                          "--auth-local=trust", "--auth-host=scram-sha-256",
                          f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8")
        pwfile.unlink()
        with open(self.data / "pg_hba.conf", "a") as fh:
            for cidr in self.allow_cidrs:
                fh.write(f"host all all {cidr} scram-sha-256\n")
        conf = {
            "listen_addresses": ",".join(self.listen),
            "port": str(self.port),
            "unix_socket_directories": str(self.dir),
            "max_connections": "100",
            "shared_buffers": "32MB",
            "fsync": "off",  # a throwaway cluster: durability costs time and buys nothing
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with open(self.data / "postgresql.auto.conf", "a") as fh:
            fh.writelines(f"{k} = '{v}'\n" for k, v in conf.items())
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                          str(self.dir / "server.log"), "-w", "-t", "60", "start")
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                              "-w", "stop")
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def where(self) -> dict[str, str | int]:
        """How to reach this cluster (JSON-able, for the deploy hook: DJH_TEST_POSTGRES)."""
        return {"host": self.listen[0], "port": self.port, "socket_dir": str(self.dir),
                "bindir": str(self.bin)}

    def psql(self, sql: str, db: str = "postgres") -> str:
        return psql(self.where(), sql, db)

    def create_database(self, name: str, user: str | None = None,
                        password: str | None = None) -> Database:
        password = password or secrets.token_urlsafe(16)
        return provision(self.where(), user or name, password, name)

    def ensure_from_url(self, url: str) -> Database:
        """Create the role and database a `postgres://user:pass@host:port/db` URL names."""
        parts = urlsplit(url)
        return self.create_database(parts.path.lstrip("/"), parts.username, parts.password)

    def url(self, db: Database, host: str | None = None, scheme: str = "postgres") -> str:
        return (f"{scheme}://{quote(db.user)}:{quote(db.password, safe='')}@"
                f"{host or self.listen[0]}:{self.port}/{db.name}")
