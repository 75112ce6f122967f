"""The hub container's command: take the hub's lock, wait for the proxy, prepare the data
volume, upgrade the database when the JupyterHub version changed, then become `jupyterhub`.

    python3 -m dokku_hub.start

The lock (an exclusive flock on /data/hub.lock, held by `jupyterhub` itself after the exec)
makes a second hub on the same data wait until the first has exited: JupyterHub is not made
to run twice against one database, and Dokku would start the new container beside the old
one if zero-downtime checks were turned back on for the hub (the plugin turns them off).

The version that last ran against this data volume is stamped in /data/jupyterhub-version;
`jupyterhub upgrade-db` (a no-op on an up-to-date or empty database, with a backup of a
sqlite file) runs only when it differs, and the stamp is written only after it succeeded.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import version

from . import settings as hub_settings
from . import spawn
from .contract import VERSION_STAMP_FILE

CONFIG = "/srv/jupyterhub/jupyterhub_config.py"
# The plugin starts the proxy right after Dokku started the hub (post-deploy): give it time,
# then fail, so Docker's restart policy tries again.
PROXY_WAIT = 300
NOTE_EVERY = 30  # seconds between "still waiting" lines


def _say(message: str) -> None:
    print(f"[dokku-jupyterhub] {message}", file=sys.stderr, flush=True)


def secure_cookie_secret(path: str) -> None:
    """JupyterHub refuses a cookie secret others can read; repair the mode rather than fail
    (a restored backup or a copy may have lost it). Missing: JupyterHub creates it 0600."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, 0o600)
        _say(f"{path} was mode {mode:o}: set to 600")


def needs_upgrade(stamp_file: str, current: str) -> bool:
    try:
        with open(stamp_file, encoding="utf-8") as fh:
            return fh.read().strip() != current
    except FileNotFoundError:
        return True


def write_stamp(stamp_file: str, current: str) -> None:
    tmp = f"{stamp_file}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(current + "\n")
    os.replace(tmp, stamp_file)


def upgrade_db_if_needed(
    settings: hub_settings.HubSettings,
    current: str,
    config: str = CONFIG,
    run: Callable[[Sequence[str]], int] = lambda argv: subprocess.call(list(argv)),
    python: str = sys.executable,
) -> bool:
    """Run `jupyterhub upgrade-db` when the stamp differs from `current`; True if it ran."""
    stamp = settings.data_path(VERSION_STAMP_FILE)
    if not needs_upgrade(stamp, current):
        return False
    _say(f"JupyterHub {current} starts on this data for the first time: upgrading the database")
    code = run([python, "-m", "jupyterhub", "upgrade-db", "-f", config])
    if code != 0:
        raise SystemExit(f"jupyterhub upgrade-db failed (exit {code}); the hub was not started")
    write_stamp(stamp, current)
    return True


def prepare(environ: Mapping[str, str]) -> hub_settings.HubSettings:
    try:
        settings = hub_settings.from_env(environ)
    except hub_settings.SettingsError as exc:
        raise SystemExit(f"[dokku-jupyterhub] {exc}") from None
    if not os.path.isdir(settings.data_dir):
        raise SystemExit(
            f"[dokku-jupyterhub] {settings.data_dir} does not exist: the hub's persistent storage "
            "is not mounted (dokku storage:report), refusing to start without it"
        )
    spawn.ensure_data_tree(settings.data_dir)
    secure_cookie_secret(settings.cookie_secret_file)
    return settings


def take_hub_lock(path: str, clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> int:
    """Hold the hub's exclusive lock, waiting for a previous hub to exit. The descriptor is
    kept across the exec, so the lock lives as long as the hub process."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    started = clock()
    noted = None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            waited = clock() - started
            if noted is None or waited - noted >= NOTE_EVERY:
                _say(f"another hub runs on {os.path.dirname(path)} (the previous container, "
                     f"still stopping, or a second web process): waiting for it to exit "
                     f"({waited:.0f} s so far)")
                noted = waited
            sleep(1)
    if noted is not None:
        _say(f"the previous hub has exited after {clock() - started:.0f} s: starting")
    os.set_inheritable(fd, True)
    return fd


def proxy_answers(settings: hub_settings.HubSettings, timeout: float = 5) -> bool:
    """Whether the proxy's API answers this hub's token. A refused token is fatal: waiting
    would not fix it."""
    req = urllib.request.Request(f"{settings.proxy_api_url}/api/routes",
                                 headers={"Authorization": f"token {settings.proxy_token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as exc:
        if exc.code == 403:
            raise SystemExit(
                f"[dokku-jupyterhub] the proxy {settings.proxy_host} refused the hub's token: "
                "run dokku jupyterhub:restart-proxy <app>") from None
        return False
    except (OSError, ValueError):
        return False


def wait_for_proxy(settings: hub_settings.HubSettings, timeout: float = PROXY_WAIT,
                   answers: Callable[[hub_settings.HubSettings], bool] = proxy_answers,
                   clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> None:
    wait_for(f"the proxy {settings.proxy_host}", lambda: answers(settings), timeout, clock,
             sleep)


def gate_answers(settings: hub_settings.HubSettings, timeout: float = 5) -> bool:
    """Whether the Docker gate answers `GET /_ping` on its socket."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(settings.docker_gate)
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_for(what: str, answers: Callable[[], bool], timeout: float = PROXY_WAIT,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> None:
    started = clock()
    noted = None
    while not answers():
        waited = clock() - started
        if waited >= timeout:
            raise SystemExit(f"[dokku-jupyterhub] {what} did not answer in {timeout:.0f} s: "
                             "see dokku jupyterhub:report <app>")
        if noted is None or waited - noted >= NOTE_EVERY:
            _say(f"waiting for {what} ({waited:.0f} s so far)")
            noted = waited
        sleep(1)


def main(argv: Sequence[str] | None = None) -> None:
    settings = prepare(os.environ)
    take_hub_lock(settings.lock_file)
    if settings.docker_gate:
        wait_for(f"the Docker gate at {settings.docker_gate}", lambda: gate_answers(settings))
    if settings.external_proxy:
        wait_for_proxy(settings)
    upgrade_db_if_needed(settings, version("jupyterhub"))
    args = [sys.executable, "-m", "jupyterhub", "-f", CONFIG]
    args += list(sys.argv[1:] if argv is None else argv)
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
