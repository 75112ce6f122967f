"""What `apps:rename` and `apps:clone` of a hub app need from this plugin, shared by the
post-app-(rename|clone)[-setup] triggers.

Dokku runs a trigger in every enabled plugin in alphabetical order, so during a rename or
clone `config` (and on Dokku < 0.38 `docker-options`, which then held the mounts) has already
copied the old app's settings to the new one when `jupyterhub` runs, while `network`,
`postgres` and `storage` (0.38 keeps mounts there) copy theirs afterwards. The functions
below therefore fix whichever app they are given and are idempotent: the setup triggers
fix both apps (what the later plugins copy is then already right), and post-app-clone fixes
the clone once everything has been copied.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from dokku_jupyterhub import create_plan, dokku_cli, dokku_state
from dokku_jupyterhub.hub_runtime.contract import DATA_MOUNT, GATE_DIR
from dokku_jupyterhub.output import verbose, warn
from dokku_jupyterhub.paths import data_root, gate_dir, storage_root
from dokku_jupyterhub.proxy_plan import checks_off


def fix_data_mount(app: str, wanted_host: str, container: str = DATA_MOUNT) -> None:
    """Make `wanted_host` the app's only mount at `container` (/data by default)."""
    mounts = dokku_state.mounts(app)
    wanted = dokku_state.StorageMount(wanted_host, container)
    for m in mounts:
        if m.container == container and m != wanted:
            dokku_cli.run("storage:unmount", app, m.spec())
    if wanted not in mounts:
        dokku_cli.run("storage:mount", app, wanted.spec())


def fix_gate_mount(app: str, owner: str) -> None:
    """Point `app`'s Docker gate mount, if it has one, at `owner`'s gate directory."""
    if any(m.container == GATE_DIR for m in dokku_state.mounts(app)):
        fix_data_mount(app, str(gate_dir(owner)), GATE_DIR)


def fix_network(app: str, net: str, drop: str | None = None) -> None:
    """Attach `app` to `net` instead of `drop` (the network of the other name), keeping every
    other network the admin attached."""
    if not dokku_state.network_exists(net):
        dokku_cli.run("network:create", net)
    current = dokku_state.attach_post_create(app)
    attached = create_plan.attach_networks(current, drop)
    if net not in attached:
        attached.append(net)
    if attached != create_plan.attach_networks(current):
        dokku_cli.run("network:set", app, "attach-post-create", *attached)


def one_hub_at_a_time(app: str) -> None:
    """Zero-downtime off for the hub's web process, which Dokku's checks plugin does not
    carry over a rename or clone (it has no trigger for either)."""
    if not checks_off(dokku_state.checks_disabled(app)):
        dokku_cli.run("checks:disable", app, "web")


def fix_config(app: str, pinned_image: str | None, extra: dict[str, str] | None = None) -> None:
    """Set the name-derived config (and `extra`) where it differs; never restarts."""
    have = dokku_state.config(app)
    wanted = {**create_plan.identity_config(app, pinned_image), **(extra or {})}
    pairs = [f"{k}={v}" for k, v in wanted.items() if have.get(k) != v]
    if pairs:
        dokku_cli.run("config:set", "--no-restart", app, *pairs)


def clear_for(new: str) -> Path | None:
    """Make room for `storage/<new>`: remove an empty leftover tree, move a non-empty one
    aside (data is never deleted). Returns where it was moved, if it was."""
    root = storage_root(new)
    if not root.exists():
        return None
    if not any(p.is_file() or p.is_symlink() for p in root.rglob("*")):
        shutil.rmtree(root)
        return None
    aside = root.with_name(f"{new}.kept-{time.strftime('%Y%m%d-%H%M%S')}")
    os.rename(root, aside)
    warn(f"{root} already held data: moved it to {aside}")
    return aside


def move_data(old: str, new: str) -> None:
    """Rename storage/<old> to storage/<new>. Running containers keep their bind mounts
    (they follow the directory, not its name) until they are replaced."""
    src = storage_root(old)
    if not src.exists():
        return
    clear_for(new)
    os.rename(src, storage_root(new))
    verbose(f"users' data moved to {data_root(new)}")
