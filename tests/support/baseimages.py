"""Base images made offline for tests: a Debian bookworm rootfs by debootstrap, imported
with `docker import`. Nothing is pulled; derived images are built from it with
`network_mode="none"` and wheels downloaded on the host."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import docker

BOOKWORM = "djh-test/bookworm:minbase"
PACKAGES = "python3,python3-venv,ca-certificates"


def has_image(cli: docker.DockerClient, ref: str) -> bool:
    try:
        cli.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_bookworm(cli: docker.DockerClient) -> str:
    """`djh-test/bookworm:minbase`, made by debootstrap when the engine lacks it (~40 s)."""
    if has_image(cli, BOOKWORM):
        return BOOKWORM
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is missing: apt-get install -y debootstrap")
    cache = os.environ.get("DJH_ROOTFS_CACHE")
    with tempfile.TemporaryDirectory(prefix="djh-rootfs-") as tmp:
        rootfs = cache or os.path.join(tmp, "bookworm")
        if not (cache and os.path.isdir(os.path.join(cache, "usr"))):
            subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", rootfs],
                check=True, stdout=subprocess.DEVNULL,
            )
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BOOKWORM], stdin=tar.stdout, check=True,
                       stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap rootfs failed")
    return BOOKWORM


# --- images built on top of the bookworm rootfs, offline -------------------------------
# Each is rebuilt only when what it is made of changes: the key (parent image id, Dockerfile,
# package lists) is stored as a label and compared before anything is fetched or built.

HUB_BASE = "djh-test/hub-base:latest"
NOTEBOOK_BASE = "djh-test/notebook-base:latest"
NOTEBOOK_FULL = "djh-test/notebook-full:latest"
KEY_LABEL = "djh-test.key"
JUPYTERHUB = "jupyterhub==6.1.1"
# What quay.io/jupyterhub/jupyterhub:6.1.1 carries besides the hub: the proxy (Node).
CHP = "configurable-http-proxy@4.6.3"
# The slim notebook: the single-user server and JupyterLab, nothing else (spawn time grows
# with what a notebook image imports, not with what it could).
NOTEBOOK_PACKAGES = (JUPYTERHUB, "jupyterlab==4.6.6")

# Multi-stage so the final image holds the installed venv, not the wheels it came from.
HUB_DOCKERFILE = """\
ARG PARENT
FROM ${PARENT} AS venv
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --quiet --no-index --find-links /tmp/wheels \\
      -r /tmp/wheels/requirements.txt

FROM ${PARENT}
COPY debs /tmp/debs
RUN dpkg -i /tmp/debs/*.deb >/dev/null && rm -rf /tmp/debs
COPY chp/node_modules /opt/node_modules
RUN ln -s /opt/node_modules/configurable-http-proxy/bin/configurable-http-proxy \\
      /usr/local/bin/configurable-http-proxy
COPY --from=venv /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH LANG=C.UTF-8
WORKDIR /srv/jupyterhub
EXPOSE 8000
CMD ["jupyterhub"]
"""

# docker-stacks' contract as derived Dockerfiles and DockerSpawner see it: jovyan 1000:100,
# the Python environment at $CONDA_DIR writable by the user, start-notebook.py as the command.
NOTEBOOK_DOCKERFILE = """\
ARG PARENT
FROM ${PARENT} AS venv
RUN mkdir -p /opt/conda && chown 1000:100 /opt/conda
COPY --chown=1000:100 wheels /tmp/wheels
USER 1000
RUN python3 -m venv /opt/conda \\
 && /opt/conda/bin/pip install --quiet --no-index --find-links /tmp/wheels \\
      -r /tmp/wheels/requirements.txt

FROM ${PARENT}
ENV NB_USER=jovyan NB_UID=1000 NB_GID=100 CONDA_DIR=/opt/conda SHELL=/bin/bash \\
    LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME=/home/jovyan
ENV PATH=/opt/conda/bin:$PATH
RUN useradd --no-log-init --create-home --shell /bin/bash --uid 1000 --gid 100 jovyan \\
 && mkdir -p /home/jovyan/work && chown -R 1000:100 /home/jovyan
COPY bin/ /usr/local/bin/
COPY --from=venv --chown=1000:100 /opt/conda /opt/conda
USER 1000
WORKDIR /home/jovyan
EXPOSE 8888
CMD ["start-notebook.py"]
"""

START_NOTEBOOK = """\
#!/opt/conda/bin/python
# docker-stacks' start-notebook.py: the single-user server when JupyterHub starts it.
import os
import sys

cmd = ["jupyterhub-singleuser"] if os.environ.get("JUPYTERHUB_API_TOKEN") else ["jupyter", "lab"]
os.execvp(cmd[0], cmd + sys.argv[1:])
"""

START_SINGLEUSER = """\
#!/opt/conda/bin/python
import os
import sys

os.execvp("jupyterhub-singleuser", ["jupyterhub-singleuser", *sys.argv[1:]])
"""

# docker-stacks' fix-permissions: derived Dockerfiles call it after installing as root.
FIX_PERMISSIONS = """\
#!/bin/bash
set -e
for d in "$@"; do
  find "$d" ! \\( -group "$NB_GID" -a -perm -g+rwX \\) -exec chgrp "$NB_GID" -- {} \\+ \\
    -exec chmod g+rwX -- {} \\+
done
"""

# The notebook base with the default image's whole package set already installed, so the
# rendered images/Dockerfile (which installs only what is missing) builds offline.
FULL_DOCKERFILE = """\
ARG PARENT
FROM ${PARENT}
USER root
COPY debs /tmp/debs
RUN dpkg -i /tmp/debs/*.deb >/dev/null && rm -rf /tmp/debs
COPY --chown=1000:100 wheels /tmp/wheels
USER 1000
RUN pip install --quiet --no-index --find-links /tmp/wheels -r /tmp/wheels/requirements.txt \\
 && rm -rf /tmp/wheels
"""


def missing_tools() -> str | None:
    """Why the offline bases cannot be made here, or None."""
    for tool, package in (("debootstrap", "debootstrap"), ("apt-get", "apt"), ("npm", "npm")):
        if not shutil.which(tool):
            return f"{tool} is missing (apt-get install -y {package})"
    if os.geteuid() != 0:
        return "debootstrap needs root"
    return None


def image_key(cli: docker.DockerClient, parent: str, *parts: str) -> str:
    from support.wheelhouse import key_of

    return key_of(cli.images.get(parent).id, *parts)


def current(cli: docker.DockerClient, ref: str, key: str) -> bool:
    try:
        return cli.images.get(ref).labels.get(KEY_LABEL) == key
    except docker.errors.ImageNotFound:
        return False


def dpkg_status(cli: docker.DockerClient, image: str) -> bytes:
    return cli.containers.run(image, ["cat", "/var/lib/dpkg/status"], user="0",
                              network_mode="none", remove=True, entrypoint=[])


def build_offline(cli: docker.DockerClient, context: str, tag: str, key: str,
                  buildargs: dict[str, str] | None = None) -> str:
    """docker-py build with no network; a failure raises with the end of the build log."""
    try:
        cli.images.build(path=context, tag=tag, network_mode="none", rm=True, forcerm=True,
                         pull=False, buildargs=buildargs or {},
                         labels={KEY_LABEL: key, "djh-test": "base"})
    except docker.errors.BuildError as exc:
        log = "".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log)
        raise RuntimeError(f"building {tag} failed: {exc.msg}\n{log[-4000:]}") from exc
    return tag


def _copy_into(src, dest: str) -> None:
    shutil.copytree(src, dest, symlinks=True)


def _context_with_wheels(tmp: str, dockerfile: str, requirements: list[str]) -> None:
    from support.wheelhouse import normalise, wheelhouse

    with open(os.path.join(tmp, "Dockerfile"), "w") as fh:
        fh.write(dockerfile)
    _copy_into(wheelhouse(requirements), os.path.join(tmp, "wheels"))
    with open(os.path.join(tmp, "wheels", "requirements.txt"), "w") as fh:
        fh.write("\n".join(normalise(requirements)) + "\n")


def ensure_hub_base(cli: docker.DockerClient, requirements: list[str]) -> str:
    """Stands in for quay.io/jupyterhub/jupyterhub:6.1.1 with `requirements` (the rendered
    hub requirements.txt) already installed, so the hub Dockerfile's pinned pip install is a
    no-op offline. Node and the proxy come from Debian's nodejs and npm."""
    from support.wheelhouse import debs, normalise, npm_package

    parent = ensure_bookworm(cli)
    reqs = normalise([JUPYTERHUB, *requirements])
    key = image_key(cli, parent, HUB_DOCKERFILE, CHP, *reqs)
    if current(cli, HUB_BASE, key):
        return HUB_BASE
    with tempfile.TemporaryDirectory(prefix="djh-hub-base-") as tmp:
        _context_with_wheels(tmp, HUB_DOCKERFILE, reqs)
        _copy_into(debs(["nodejs"], dpkg_status(cli, parent)), os.path.join(tmp, "debs"))
        _copy_into(npm_package(CHP), os.path.join(tmp, "chp"))
        return build_offline(cli, tmp, HUB_BASE, key, {"PARENT": parent})


def ensure_notebook_base(cli: docker.DockerClient) -> str:
    """Stands in for quay.io/jupyter/minimal-notebook: slim, same jupyterhub as the hub."""
    parent = ensure_bookworm(cli)
    scripts = {"start-notebook.py": START_NOTEBOOK, "start-singleuser.py": START_SINGLEUSER,
               "fix-permissions": FIX_PERMISSIONS}
    key = image_key(cli, parent, NOTEBOOK_DOCKERFILE, *NOTEBOOK_PACKAGES, *scripts.values())
    if current(cli, NOTEBOOK_BASE, key):
        return NOTEBOOK_BASE
    with tempfile.TemporaryDirectory(prefix="djh-nb-base-") as tmp:
        _context_with_wheels(tmp, NOTEBOOK_DOCKERFILE, list(NOTEBOOK_PACKAGES))
        os.mkdir(os.path.join(tmp, "bin"))
        for name, text in scripts.items():
            path = os.path.join(tmp, "bin", name)
            with open(path, "w") as fh:
                fh.write(text)
            os.chmod(path, 0o755)
        return build_offline(cli, tmp, NOTEBOOK_BASE, key, {"PARENT": parent})


def ensure_notebook_full(cli: docker.DockerClient, requirements: list[str],
                         apt_packages: list[str]) -> str:
    """The notebook base plus the default notebook image's packages (pip `requirements`,
    Debian `apt_packages`), for building the rendered images/Dockerfile offline."""
    from support.wheelhouse import debs, normalise

    parent = ensure_notebook_base(cli)
    reqs = normalise([*NOTEBOOK_PACKAGES, *requirements])
    key = image_key(cli, parent, FULL_DOCKERFILE, *reqs, "apt:", *sorted(apt_packages))
    if current(cli, NOTEBOOK_FULL, key):
        return NOTEBOOK_FULL
    with tempfile.TemporaryDirectory(prefix="djh-nb-full-") as tmp:
        _context_with_wheels(tmp, FULL_DOCKERFILE, reqs)
        _copy_into(debs(apt_packages, dpkg_status(cli, parent)), os.path.join(tmp, "debs"))
        return build_offline(cli, tmp, NOTEBOOK_FULL, key, {"PARENT": parent})


# --- what the rendered hub app asks of its bases ------------------------------------------


def requirement_lines(text: bytes | str) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode()
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines()
            if ln.split("#", 1)[0].strip()]


def apt_packages_of(dockerfile: bytes | str) -> list[str]:
    """The `ARG APT_PACKAGES="..."` default of the rendered images/Dockerfile."""
    import re

    if isinstance(dockerfile, bytes):
        dockerfile = dockerfile.decode()
    m = re.search(r'^ARG APT_PACKAGES="([^"]*)"', dockerfile, re.M)
    return m.group(1).split() if m else []


def ensure_for_rendered(cli: docker.DockerClient, files: dict[str, bytes]) -> dict[str, str]:
    """The bases for a rendered hub app (`hubapp.render_files`): the hub base with exactly its
    requirements.txt, the notebook base with exactly its images/ packages."""
    return {
        "hub": ensure_hub_base(cli, requirement_lines(files["requirements.txt"])),
        "notebook": ensure_notebook_full(
            cli, requirement_lines(files["images/requirements.txt"]),
            apt_packages_of(files["images/Dockerfile"]),
        ),
    }
