"""The hub container's command: prepare the data volume, upgrade the database when the
JupyterHub version changed, then become `jupyterhub`.

    python3 -m dokku_hub.start

The version that last ran against this data volume is stamped in /data/jupyterhub-version;
`jupyterhub upgrade-db` (a no-op on an up-to-date or empty database, with a backup of a
sqlite file) runs only when it differs, and the stamp is written only after it succeeded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import version

from . import settings as hub_settings
from . import spawn
from .contract import VERSION_STAMP_FILE

CONFIG = "/srv/jupyterhub/jupyterhub_config.py"


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


def main(argv: Sequence[str] | None = None) -> None:
    settings = prepare(os.environ)
    upgrade_db_if_needed(settings, version("jupyterhub"))
    args = [sys.executable, "-m", "jupyterhub", "-f", CONFIG]
    args += list(sys.argv[1:] if argv is None else argv)
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
