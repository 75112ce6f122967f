"""What a user's notebook container gets, and preparing the host for it.

`plan_spawn` is pure: policy + username -> bind mounts (host paths), memory and CPU limits.
`prepare_host` creates the mount sources through the hub's own view of the data volume
(HUB_DATA_DIR, the same directory as HUB_HOST_DATA_DIR on the host) and hands them to the
notebook user (1000:100) before Docker sees them: Docker would create missing bind sources
as root, and the notebook user could not write them. Directories are walked one component at
a time with O_NOFOLLOW, so a symlink planted in a writable folder (admins can write `users/`)
can never redirect a mount or a chown outside the data volume.
`PreSpawnHook` applies both to a DockerSpawner right before it starts the container.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from dataclasses import dataclass
from typing import Any

from . import names, policy
from .policy_cache import PolicyCache

NB_UID = 1000
NB_GID = 100
# Top-level folders of the data volume that notebook containers see.
DATA_TREE = ("users", "user-settings", "shared", "colab", "groups")
LABEL_APP = "org.dokku-jupyterhub.app"
LABEL_USER = "org.dokku-jupyterhub.user"

_LOG = logging.getLogger("JupyterHub")


class SpawnRefused(RuntimeError):
    """This user's server must not start; the message is shown to the user."""


class UnsafePath(RuntimeError):
    """A path component is a symlink or not a directory."""


@dataclass(frozen=True)
class SpawnPlan:
    user: str
    admin: bool
    groups: tuple[str, ...]
    mounts: tuple[policy.Mount, ...]
    memory: str  # as written in the policy, e.g. "350m"
    cpu: float | None

    @property
    def mem_limit(self) -> int:
        return policy.parse_memory(self.memory)

    def volumes(self) -> dict[str, dict[str, str]]:
        """DockerSpawner.volumes: host path -> bind and mode."""
        return {m.host: {"bind": m.container, "mode": m.mode} for m in self.mounts}

    def host_config(self) -> dict[str, Any]:
        # memory+swap equal to memory: no swap. A notebook that outgrows its limit is killed
        # at once instead of thrashing the shared host's disk for everyone.
        return {"memswap_limit": self.mem_limit}

    def mount_points(self) -> list[tuple[policy.Mount, str]]:
        """Mounts nested in another mount's container path, with the relative path of their
        mount point inside that outer mount (e.g. `shared` inside the user's `work`)."""
        out = []
        for inner in self.mounts:
            outers = [
                m for m in self.mounts
                if m is not inner and inner.container.startswith(m.container.rstrip("/") + "/")
            ]
            if outers:
                outer = max(outers, key=lambda m: len(m.container))
                out.append((outer, inner.container[len(outer.container) :].strip("/")))
        return out


def plan_spawn(
    doc: dict[str, Any], user: str, host_root: str, extra_groups: tuple[str, ...] = ()
) -> SpawnPlan:
    """Raises SpawnRefused for a name that could leave its folder, before any path exists."""
    if not names.is_safe_name(user):
        raise SpawnRefused(
            f"the username {user!r} cannot be used for a notebook server: names must be "
            "lowercase letters, digits and . _ @ + -, starting with a letter or digit"
        )
    memory, cpu = policy.limits_for(doc, user, extra_groups)
    return SpawnPlan(
        user=user,
        admin=policy.is_admin(doc, user),
        groups=tuple(policy.groups_of(doc, user, extra_groups)),
        mounts=tuple(policy.mounts_for(doc, user, host_root, extra_groups)),
        memory=memory,
        cpu=cpu,
    )


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
    for name in DATA_TREE:
        ensure_dir(data_dir, name)
    (log or _LOG).info("Data folders ready in %s (%s)", data_dir, ", ".join(DATA_TREE))


def prepare_host(
    plan: SpawnPlan, data_dir: str, host_root: str, log: logging.Logger | None = None
) -> list[str]:
    """Create every bind source of `plan` (refusing symlinks) and, best effort, the mount
    points of nested mounts inside the user's own folders, so Docker does not leave
    root-owned empty folders there. Returns the in-hub paths of the sources."""
    log = log or _LOG
    made = []
    for mount in plan.mounts:
        rel = relative_to_root(mount.host, host_root)
        try:
            made.append(ensure_dir(data_dir, rel))
        except UnsafePath as exc:
            raise SpawnRefused(f"cannot prepare {mount.container}: {exc}") from None
    for outer, inner_rel in plan.mount_points():
        if outer.mode != "rw":
            continue
        rel = relative_to_root(outer.host, host_root) + "/" + inner_rel
        try:
            ensure_dir(data_dir, rel)
        except (UnsafePath, OSError) as exc:
            # The user's own folder: Docker resolves mount points inside the container
            # safely, so a planted symlink there only costs the tidy mount point.
            log.warning("Not creating mount point %s for %s: %s", rel, plan.user, exc)
    return made


def groups_from_user(user: Any) -> tuple[str, ...]:
    """Names of the JupyterHub groups of a hub User (filled from the OAuth groups claim)."""
    return tuple(sorted(g.name for g in getattr(user, "groups", []) or []))


def literal_volume_name(template: str, spawner: Any) -> str:
    """DockerSpawner.format_volume_name that formats nothing: host paths are built from the
    hub's username by `plan_spawn`, never from DockerSpawner's escaped `{username}`."""
    return template


class PreSpawnHook:
    """`c.Spawner.pre_spawn_hook`: reads the policy in force, refuses users the policy no
    longer lets in, prepares the host folders and sets mounts and limits on the spawner."""

    def __init__(
        self,
        cache: PolicyCache,
        host_root: str,
        data_dir: str,
        app: str,
        allow_all: bool = False,
        groups_from_claim: bool = False,
    ) -> None:
        self.cache = cache
        self.host_root = host_root
        self.data_dir = data_dir
        self.app = app
        self.allow_all = allow_all
        self.groups_from_claim = groups_from_claim

    def __deepcopy__(self, memo: dict[int, Any]) -> PreSpawnHook:
        # traitlets deep-copies config values into every spawner: share one hook (and its
        # policy cache) instead, so all spawns see the same last good policy.
        return self

    def plan_for(self, user: Any) -> SpawnPlan:
        name = user.name
        extra = groups_from_user(user) if self.groups_from_claim else ()
        doc = self.cache.current()
        plan = plan_spawn(doc, name, self.host_root, extra)
        if not (self.allow_all or policy.is_allowed(doc, name) or plan.groups):
            raise SpawnRefused(
                f"{name} is not allowed on this hub any more: ask an admin to add you"
            )
        return plan

    def __call__(self, spawner: Any) -> None:
        log = getattr(spawner, "log", None) or _LOG
        plan = self.plan_for(spawner.user)
        prepare_host(plan, self.data_dir, self.host_root, log)
        spawner.volumes = plan.volumes()
        spawner.mem_limit = plan.mem_limit
        spawner.cpu_limit = plan.cpu
        spawner.extra_host_config = plan.host_config()
        spawner.extra_create_kwargs = {
            # Whatever the image says: never root, and the owner of the data folders.
            "user": f"{NB_UID}:{NB_GID}",
            "labels": {LABEL_APP: self.app, LABEL_USER: plan.user},
        }
        log.info(
            "Spawning %s: admin=%s groups=%s memory=%s cpu=%s mounts=%s",
            plan.user,
            plan.admin,
            ",".join(plan.groups) or "-",
            plan.memory,
            plan.cpu if plan.cpu is not None else "-",
            " ".join(f"{m.container}:{m.mode}" for m in plan.mounts),
        )

