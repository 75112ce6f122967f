"""DockerSpawner's side of a spawn: the decision (spawn_decision.py) applied to the
spawner, and the host prepared for it.

`prepare_host` creates the mount sources through the hub's own view of the data volume
(HUB_DATA_DIR, the same directory as HUB_HOST_DATA_DIR on the host) and hands them to the
notebook user (1000:100) before Docker sees them: Docker would create missing bind sources
as root, and the notebook user could not write them. Directories are walked one component at
a time with O_NOFOLLOW, so a symlink planted in a writable folder (admins can write `users/`)
can never redirect a mount or a chown outside the data volume.
`PreSpawnHook` decides and applies both right before DockerSpawner starts the container.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from typing import Any

from .contract import (
    DATA_SUBDIRS,
    LABEL_NOTEBOOK_APP,
    LABEL_NOTEBOOK_GROUPS,
    LABEL_NOTEBOOK_USER,
    NB_GID,
    NB_UID,
)
from .policy_cache import PolicyCache
from .spawn_decision import SpawnDecision, SpawnRefused, decide

_LOG = logging.getLogger("JupyterHub")


class UnsafePath(RuntimeError):
    """A path component is a symlink or not a directory."""


def docker_volumes(decision: SpawnDecision) -> dict[str, dict[str, str]]:
    """DockerSpawner.volumes: host path -> bind and mode."""
    return {m.host: {"bind": m.container, "mode": m.mode} for m in decision.mounts}


def docker_host_config(decision: SpawnDecision) -> dict[str, Any]:
    # memory+swap equal to memory: no swap. A notebook that outgrows its limit is killed
    # at once instead of thrashing the shared host's disk for everyone. The container stays
    # after it dies, so the hub can read why (docker_spawner.py); DockerSpawner's `remove`
    # removes it when the server is stopped.
    return {"memswap_limit": decision.mem_bytes, "auto_remove": False}


def container_labels(decision: SpawnDecision, app: str,
                     groups_from_claim: bool = False) -> dict[str, str]:
    """The notebook server's labels: whose it is and, when the groups come from the login's
    claim (which only the hub knows), which, so the Docker gate decides as the hub did."""
    labels = {LABEL_NOTEBOOK_APP: app, LABEL_NOTEBOOK_USER: decision.user}
    if groups_from_claim and decision.groups:
        labels[LABEL_NOTEBOOK_GROUPS] = ",".join(decision.groups)
    return labels


def apply_to_dockerspawner(spawner: Any, decision: SpawnDecision, app: str,
                           groups_from_claim: bool = False) -> None:
    """Set everything the decision says on a DockerSpawner, and nothing it does not."""
    spawner.image = decision.image
    spawner.volumes = docker_volumes(decision)
    spawner.mem_limit = decision.mem_bytes
    spawner.cpu_limit = decision.cpu
    spawner.extra_host_config = docker_host_config(decision)
    spawner.extra_create_kwargs = {
        # Whatever the image says: never root, and the owner of the data folders.
        "user": f"{decision.uid}:{decision.gid}",
        "labels": container_labels(decision, app, groups_from_claim),
    }
    if hasattr(spawner, "memory_shown"):  # the hub's spawner names the limit when it kills
        spawner.memory_shown = decision.memory


def relative_to_root(host_path: str, host_root: str) -> str:
    """`host_path` relative to the data root, refusing anything outside it."""
    root = host_root.rstrip("/")
    if not host_path.startswith(root + "/"):
        raise UnsafePath(f"{host_path} is not inside the data directory {root}")
    rel = host_path[len(root) + 1 :]
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(f"{host_path} is not a plain path inside {root}")
    return rel


def ensure_dir(root: str, rel: str, uid: int = NB_UID, gid: int = NB_GID) -> str:
    """Create `root/rel` (and missing parents below `root`) owned by uid:gid, following no
    symlink on the way. `root` itself is never changed. Returns the full path."""
    chown = os.geteuid() == 0
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in rel.split("/"):
            if part in ("", ".", ".."):
                raise UnsafePath(f"refusing path component {part!r} in {rel!r}")
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(
                        f"{root}/{rel}: {part} is a symlink or not a directory"
                    ) from None
                raise
            os.close(fd)
            fd = child
            st = os.fstat(fd)
            if not stat.S_ISDIR(st.st_mode):  # pragma: no cover - O_DIRECTORY guarantees it
                raise UnsafePath(f"{root}/{rel} is not a directory")
            if chown and (st.st_uid, st.st_gid) != (uid, gid):
                os.fchown(fd, uid, gid)
    finally:
        os.close(fd)
    return f"{root.rstrip('/')}/{rel}"


def ensure_data_tree(data_dir: str, log: logging.Logger | None = None) -> None:
    """The top-level folders notebook containers mount, owned by the notebook user. Run at
    hub start: the plugin runs as the `dokku` user and cannot chown."""
    for name in DATA_SUBDIRS:
        ensure_dir(data_dir, name)
    (log or _LOG).info("Data folders ready in %s (%s)", data_dir, ", ".join(DATA_SUBDIRS))


def prepare_host(
    decision: SpawnDecision, data_dir: str, host_root: str, log: logging.Logger | None = None
) -> list[str]:
    """Create every bind source of `decision` (refusing symlinks) and, best effort, the mount
    points of nested mounts inside the user's own folders, so Docker does not leave
    root-owned empty folders there. Returns the in-hub paths of the sources."""
    log = log or _LOG
    made = []
    for mount in decision.mounts:
        rel = relative_to_root(mount.host, host_root)
        try:
            made.append(ensure_dir(data_dir, rel))
        except UnsafePath as exc:
            raise SpawnRefused(f"cannot prepare {mount.container}: {exc}") from None
    for outer, inner_rel in decision.mount_points():
        if outer.mode != "rw":
            continue
        rel = relative_to_root(outer.host, host_root) + "/" + inner_rel
        try:
            ensure_dir(data_dir, rel)
        except (UnsafePath, OSError) as exc:
            # The user's own folder: Docker resolves mount points inside the container
            # safely, so a planted symlink there only costs the tidy mount point.
            log.warning("Not creating mount point %s for %s: %s", rel, decision.user, exc)
    return made


def groups_from_user(user: Any) -> tuple[str, ...]:
    """Names of the JupyterHub groups of a hub User (filled from the OAuth groups claim)."""
    return tuple(sorted(g.name for g in getattr(user, "groups", []) or []))


def literal_volume_name(template: str, spawner: Any) -> str:
    """DockerSpawner.format_volume_name that formats nothing: host paths are built from the
    hub's username by `spawn_decision`, never from DockerSpawner's escaped `{username}`."""
    return template


class PreSpawnHook:
    """`c.Spawner.pre_spawn_hook`: decides from the policy in force (refusing users the
    policy no longer lets in), prepares the host folders and applies the decision."""

    def __init__(
        self,
        cache: PolicyCache,
        host_root: str,
        data_dir: str,
        app: str,
        image: str,
        allow_all: bool = False,
        groups_from_claim: bool = False,
    ) -> None:
        self.cache = cache
        self.host_root = host_root
        self.data_dir = data_dir
        self.app = app
        self.image = image
        self.allow_all = allow_all
        self.groups_from_claim = groups_from_claim

    def __deepcopy__(self, memo: dict[int, Any]) -> PreSpawnHook:
        # traitlets deep-copies config values into every spawner: share one hook (and its
        # policy cache) instead, so all spawns see the same last good policy.
        return self

    def decision_for(self, user: Any) -> SpawnDecision:
        extra = groups_from_user(user) if self.groups_from_claim else ()
        return decide(self.cache.current(), user.name, self.host_root, self.image, extra,
                      allow_all=self.allow_all)

    def __call__(self, spawner: Any) -> None:
        log = getattr(spawner, "log", None) or _LOG
        decision = self.decision_for(spawner.user)
        prepare_host(decision, self.data_dir, self.host_root, log)
        apply_to_dockerspawner(spawner, decision, self.app, self.groups_from_claim)
        log.info(
            "Spawning %s: admin=%s groups=%s memory=%s cpu=%s mounts=%s",
            decision.user,
            decision.admin,
            ",".join(decision.groups) or "-",
            decision.memory,
            decision.cpu if decision.cpu is not None else "-",
            " ".join(f"{m.container}:{m.mode}" for m in decision.mounts),
        )
