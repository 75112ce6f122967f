"""The plugin's properties, in Dokku's own on-disk layout.

One file per key at `$DOKKU_LIB_ROOT/config/jupyterhub/<app>/<key>`: the raw value without a
trailing newline, mode 0600, directories 0755, owned by the Dokku system user; lists are
newline-separated. Global values live under the app name `--global`. Writes are atomic
(temporary file + rename) so a crash never leaves a half-written value.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import tempfile
from pathlib import Path

from dokku_jupyterhub.paths import properties_dir

GLOBAL = "--global"
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def dokku_owner() -> tuple[int, int] | None:
    """uid/gid of the Dokku system user, when we are root and it exists (else: leave owners)."""
    if os.geteuid() != 0:
        return None
    try:
        uid = pwd.getpwnam(os.environ.get("DOKKU_SYSTEM_USER", "dokku")).pw_uid
        gid = grp.getgrnam(os.environ.get("DOKKU_SYSTEM_GROUP", "dokku")).gr_gid
    except KeyError:
        return None
    return uid, gid


def _app_dir(app: str) -> Path:
    if app != GLOBAL and ("/" in app or app.startswith(".") or not app):
        raise ValueError(f"invalid app name for a property: {app!r}")
    return properties_dir() / app


def _path(app: str, key: str) -> Path:
    if not _KEY_RE.match(key):
        raise ValueError(f"invalid property key: {key!r}")
    return _app_dir(app) / key


def _ensure_dir(path: Path) -> None:
    owner = dokku_owner()
    for d in reversed([path, *path.parents]):
        if d.exists():
            continue
        d.mkdir(mode=0o755)
        os.chmod(d, 0o755)
        if owner:
            os.chown(d, *owner)


def get(app: str, key: str, default: str | None = None) -> str | None:
    try:
        return _path(app, key).read_text()
    except FileNotFoundError:
        return default


def get_with_global(app: str, key: str, default: str | None = None) -> str | None:
    """The app's value, else the global one, else `default` (Dokku's property fallback)."""
    value = get(app, key)
    if value is None:
        value = get(GLOBAL, key)
    return default if value is None else value


def set(app: str, key: str, value: str) -> None:  # noqa: A001 - mirrors `fn-plugin-property-write`
    """Write a property atomically; an empty value deletes it, as Dokku's `:set` does."""
    if value == "":
        delete(app, key)
        return
    path = _path(app, key)
    _ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        os.chmod(tmp, 0o600)
        owner = dokku_owner()
        if owner:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def delete(app: str, key: str) -> None:
    _path(app, key).unlink(missing_ok=True)


def get_list(app: str, key: str) -> list[str]:
    value = get(app, key)
    return [line for line in value.split("\n") if line] if value else []


def all_for(app: str) -> dict[str, str]:
    d = _app_dir(app)
    if not d.is_dir():
        return {}
    # Names starting with "." are set()'s temporary files.
    return {
        p.name: p.read_text()
        for p in sorted(d.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def apps_with(key: str) -> list[str]:
    """Apps that have `key` set (e.g. every hub app), sorted."""
    root = properties_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.name != GLOBAL and (p / key).is_file())


def destroy(app: str) -> None:
    shutil.rmtree(_app_dir(app), ignore_errors=True)


def rename(old: str, new: str) -> None:
    src = _app_dir(old)
    if src.is_dir():
        _ensure_dir(_app_dir(new).parent)
        shutil.rmtree(_app_dir(new), ignore_errors=True)
        os.replace(src, _app_dir(new))


def clone(old: str, new: str) -> None:
    for key, value in all_for(old).items():
        set(new, key, value)
