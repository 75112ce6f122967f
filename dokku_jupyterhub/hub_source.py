"""The source of a hub app: what `create` deploys and `export` hands over.

    files = render_files(params_for(app))   # {"Dockerfile": b"...", "images/Dockerfile": ...}
    to_tar(files, top="hub")                # for `dokku git:from-archive <app> --`
    write_dir(files, dest)                  # for a git repository the admin takes over

`render_files` is pure: the same params give the same bytes, so an unchanged hub is "No
changes detected" for Dokku, and the notebook image is rebuilt only when `images/` changed.
The hub-side package (`dokku_jupyterhub/hub_runtime/*.py`) ships as `dokku_hub/` beside
`jupyterhub_config.py`, so the hub runs the same tested rules as the plugin.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from dokku_jupyterhub import __version__, properties
from dokku_jupyterhub.hub_runtime.contract import (
    HUB_APP_RE,
    LABEL_DOCKER_GATE,
    LABEL_PROXY_MODE,
    PROXY_EXTERNAL,
    Prop,
)
from dokku_jupyterhub.validate import IMAGE_RE

TEMPLATES = Path(__file__).resolve().parent / "templates"
HUB_PACKAGE = Path(__file__).resolve().parent / "hub_runtime"

JUPYTERHUB_VERSION = "6.1.1"
DEFAULT_HUB_BASE_IMAGE = f"quay.io/jupyterhub/jupyterhub:{JUPYTERHUB_VERSION}"
# A dated docker-stacks build (2026-08-07: JupyterLab 4.6, Python 3.13). It ships an older
# JupyterHub, so images/requirements.txt pins the hub's version explicitly.
DEFAULT_NOTEBOOK_BASE_IMAGE = "quay.io/jupyter/minimal-notebook:2026-08-07"
DEFAULT_APT_PACKAGES = "graphviz"
DEFAULT_SPELLCHECKER_LANGUAGE = "en_US"

# Output path -> template (under templates/).
TEMPLATE_FILES = {
    ".dockerignore": "dockerignore.j2",
    "Dockerfile": "Dockerfile.j2",
    "README.md": "README.md.j2",
    "app.json": "app.json.j2",
    "jupyterhub_config.py": "jupyterhub_config.py.j2",
    "requirements.txt": "requirements.txt.j2",
    "images/Dockerfile": "images/Dockerfile.j2",
    "images/jupyter_server_config.py": "images/jupyter_server_config.py.j2",
    "images/overrides.json": "images/overrides.json.j2",
    "images/requirements.txt": "images/requirements.txt.j2",
}
HUB_PACKAGE_DIR = "dokku_hub"
_WORDS_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]*( [a-z0-9][a-z0-9.+-]*)*$")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]+)*$")
_VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z0-9.]*)$")
# Fixed metadata so the same files always make the same tar bytes.
TAR_MTIME = 1_700_000_000


@dataclass(frozen=True)
class HubParams:
    app: str
    hub_base_image: str = DEFAULT_HUB_BASE_IMAGE
    notebook_base_image: str = DEFAULT_NOTEBOOK_BASE_IMAGE
    jupyterhub_version: str = JUPYTERHUB_VERSION
    apt_packages: str = DEFAULT_APT_PACKAGES
    spellchecker_language: str = DEFAULT_SPELLCHECKER_LANGUAGE
    plugin_version: str = __version__


def check_params(params: HubParams) -> None:
    """Values end up in Dockerfiles and JSON: refuse anything that is not a plain token."""
    checks = [
        ("app name", params.app, HUB_APP_RE),
        ("hub base image", params.hub_base_image, IMAGE_RE),
        ("notebook base image", params.notebook_base_image, IMAGE_RE),
        ("jupyterhub version", params.jupyterhub_version, _VERSION_RE),
        ("spellchecker language", params.spellchecker_language, _LANG_RE),
    ]
    if params.apt_packages:
        checks.append(("apt packages", params.apt_packages, _WORDS_RE))
    for what, value, pattern in checks:
        if not pattern.fullmatch(value):
            raise ValueError(f"invalid {what}: {value!r}")


def params_for(app: str) -> HubParams:
    """The app's parameters from its properties (base images fall back to `--global`)."""
    return HubParams(
        app=app,
        hub_base_image=properties.get_with_global(app, Prop.HUB_BASE_IMAGE)
        or DEFAULT_HUB_BASE_IMAGE,
        notebook_base_image=properties.get_with_global(app, Prop.NOTEBOOK_BASE_IMAGE)
        or DEFAULT_NOTEBOOK_BASE_IMAGE,
    )


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def hub_package_files() -> dict[str, bytes]:
    return {
        f"{HUB_PACKAGE_DIR}/{p.name}": p.read_bytes()
        for p in sorted(HUB_PACKAGE.glob("*.py"))
    }


def render_files(params: HubParams) -> dict[str, bytes]:
    """Relative path -> content of every file of the hub app's source, sorted by path."""
    check_params(params)
    env = _environment()
    context = {
        "app": params.app,
        "hub_base_image": params.hub_base_image,
        "notebook_base_image": params.notebook_base_image,
        "jupyterhub_version": params.jupyterhub_version,
        "apt_packages": params.apt_packages,
        "spellchecker_language": params.spellchecker_language,
        "plugin_version": params.plugin_version,
        "proxy_label": f"{LABEL_PROXY_MODE}={PROXY_EXTERNAL}",
        "gate_label": f"{LABEL_DOCKER_GATE}=1",
    }
    files = {
        out: env.get_template(name).render(**context).encode()
        for out, name in TEMPLATE_FILES.items()
    }
    files.update(hub_package_files())
    return dict(sorted(files.items()))


def _dirs_of(paths: list[str]) -> list[str]:
    dirs = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


def _check_relative(path: str) -> None:
    if path.startswith("/") or any(p in ("", ".", "..") for p in path.split("/")):
        raise ValueError(f"not a plain relative path: {path!r}")


def to_tar(files: Mapping[str, bytes], top: str = "hub") -> bytes:
    """A deterministic tar (fixed mtime and owners, sorted, one top-level folder `top`)."""
    _check_relative(top)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:

        def add(name: str, data: bytes | None) -> None:
            info = tarfile.TarInfo(name)
            info.mtime = TAR_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        paths = sorted(files)
        for path in paths:
            _check_relative(path)
        add(top, None)
        for d in _dirs_of(paths):
            add(f"{top}/{d}", None)
        for path in paths:
            add(f"{top}/{path}", files[path])
    return buf.getvalue()


def write_dir(files: Mapping[str, bytes], dest: str | os.PathLike[str]) -> list[Path]:
    """Write `files` under `dest` (created if missing), each atomically; returns the paths."""
    root = Path(dest)
    written = []
    for path in sorted(files):
        _check_relative(path)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(files[path])
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
