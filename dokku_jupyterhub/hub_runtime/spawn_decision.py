"""What one user's notebook server gets: a pure function of the policy and the user.

    decision = decide(doc, "bob", host_root, image)
    decision.mounts   # (host path, path inside, ro|rw), host paths under host_root
    decision.memory, decision.cpu, decision.image, decision.uid, decision.gid

It knows nothing of the spawner: `spawn.py` renders a decision for DockerSpawner, and
another spawner would render the same decision, never derive its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import names, policy
from .contract import NB_GID, NB_UID, NOTEBOOK_HOME

WORK = f"{NOTEBOOK_HOME}/work"


class SpawnRefused(RuntimeError):
    """This user's server must not start; the message is shown to the user."""


@dataclass(frozen=True)
class BindMount:
    """One folder of the data volume in a user's server: host path, path inside, ro|rw."""

    host: str
    container: str
    mode: str  # "ro" | "rw"


@dataclass(frozen=True)
class SpawnDecision:
    user: str
    admin: bool
    groups: tuple[str, ...]
    mounts: tuple[BindMount, ...]
    memory: str  # as written in the policy, e.g. "350m"
    cpu: float | None
    image: str
    uid: int = NB_UID
    gid: int = NB_GID

    @property
    def mem_bytes(self) -> int:
        return policy.parse_memory(self.memory)

    def mount_points(self) -> list[tuple[BindMount, str]]:
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


def mounts_for(
    doc: dict[str, Any], user: str, host_root: str, extra_groups: tuple[str, ...] = ()
) -> list[BindMount]:
    """The bind mounts of `user`'s notebook container, host paths under `host_root`."""
    if not names.is_safe_name(user):
        raise policy.PolicyError(f"refusing to build paths for unsafe username {user!r}")
    admin = policy.is_admin(doc, user)
    mounts = [
        BindMount(f"{host_root}/users/{user}", WORK, "rw"),
        BindMount(f"{host_root}/user-settings/{user}", f"{NOTEBOOK_HOME}/.jupyter/lab", "rw"),
        BindMount(f"{host_root}/shared", f"{WORK}/shared", "rw" if admin else "ro"),
        BindMount(f"{host_root}/colab", f"{WORK}/colab", "rw"),
    ]
    groups = doc.get("groups", {})
    for g in sorted(groups) if admin else policy.groups_of(doc, user, extra_groups):
        mode = "rw" if admin else groups[g].get("members_mode", "ro")
        mounts.append(BindMount(f"{host_root}/groups/{g}", f"{WORK}/groups/{g}", mode))
    if admin:
        mounts.append(BindMount(f"{host_root}/users", f"{WORK}/users", "rw"))
    return mounts


def decide(
    doc: dict[str, Any],
    user: str,
    host_root: str,
    image: str,
    extra_groups: tuple[str, ...] = (),
    allow_all: bool = False,
) -> SpawnDecision:
    """Raises SpawnRefused for a name that could leave its folder (before any path exists)
    and, unless `allow_all`, for a user the policy no longer lets in."""
    if not names.is_safe_name(user):
        raise SpawnRefused(
            f"the username {user!r} cannot be used for a notebook server: names must be "
            "lowercase letters, digits and . _ @ + -, starting with a letter or digit"
        )
    groups = tuple(policy.groups_of(doc, user, extra_groups))
    if not (allow_all or policy.is_allowed(doc, user) or groups):
        raise SpawnRefused(f"{user} is not allowed on this hub any more: ask an admin to add you")
    memory, cpu = policy.limits_for(doc, user, extra_groups)
    return SpawnDecision(
        user=user,
        admin=policy.is_admin(doc, user),
        groups=groups,
        mounts=tuple(mounts_for(doc, user, host_root, extra_groups)),
        memory=memory,
        cpu=cpu,
        image=image,
    )
