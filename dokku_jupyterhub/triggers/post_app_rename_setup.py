"""`post-app-rename-setup OLD NEW` (apps:rename, before the old app is destroyed and the new
one rebuilt): the users' data follows the app.

- the /data mount, the network (`NEW-network`) and the name-derived config (HUB_APP_NAME,
  HUB_IP, HUB_HOST_DATA_DIR, DOCKER_NETWORK_NAME, DOCKER_JUPYTER_IMAGE unless pinned) are
  rewritten: NEW's first, then OLD's network and /data mount (see rename_clone.py for why both);
- the plugin properties move to NEW (before OLD's post-delete would drop them);
- last, storage/OLD is renamed to storage/NEW, so `data_root(NEW)` holds the users' folders,
  the policy and the hub's database (a non-empty leftover storage/NEW is moved aside, never
  deleted);
- the Postgres service keeps its name and its link (dokku-postgres moves the link itself).

Every Dokku command that can fail runs before the properties and the data move. When one
fails, or a move does, the properties and OLD's network and /data mount are put back as
they were, so OLD is still a working hub on its untouched data; the error says exactly
that and what to run (apps:rename leaves the half-made NEW behind). Users' data is never
deleted.

OLD's proxy container goes (NEW's deploy starts NEW's, on the same address: the property
moves with the others). Notebook servers still running keep OLD-network; users restart their
server once. The old
network and the old notebook images stay for the admin to remove (printed).
"""

from __future__ import annotations

from dokku_jupyterhub import (
    companions,
    create_plan,
    dokku_cli,
    dokku_state,
    properties,
    rename_clone,
)
from dokku_jupyterhub.hub_apps import is_hub_app
from dokku_jupyterhub.hub_runtime.contract import (
    DATA_MOUNT,
    GATE_DIR,
    Prop,
    network_name,
    notebook_image,
)
from dokku_jupyterhub.output import DokkuError, info1, verbose, warn
from dokku_jupyterhub.paths import data_root, storage_root

DATA = DATA_MOUNT


def main(argv: list[str]) -> int:
    old, new = argv[0], argv[1]
    if not is_hub_app(old):
        return 0
    info1(f"jupyterhub: moving {old}'s hub settings and users' data to {new}")
    net = network_name(new)
    # What OLD looks like now, to put back if anything below fails.
    old_mounts = dokku_state.mounts(old)
    old_attach = dokku_state.attach_post_create(old)
    try:
        rename_clone.fix_data_mount(new, str(data_root(new)))
        rename_clone.fix_network(new, net, drop=network_name(old))
        rename_clone.fix_config(new, properties.get(old, Prop.NOTEBOOK_IMAGE))
        rename_clone.one_hub_at_a_time(new)
        rename_clone.fix_gate_mount(new, new)
        # OLD last: the network and storage plugins copy OLD's settings to NEW after us.
        rename_clone.fix_network(old, net, drop=network_name(old))
        rename_clone.fix_data_mount(old, str(data_root(new)))
        rename_clone.fix_gate_mount(old, new)
        properties.rename(old, new)
        rename_clone.move_data(old, new)
    except (DokkuError, OSError) as exc:
        why = exc.message if isinstance(exc, DokkuError) else str(exc)
        if is_hub_app(new):
            properties.rename(new, old)
        raise DokkuError(rollback(old, new, old_mounts, old_attach, why)) from None
    try:
        for name in companions.drop(old):
            verbose(f"removed {name}: {new}'s deploy starts its own")
    except DokkuError as exc:
        warn(f"jupyterhub: {old}'s proxy and gate containers are left: {exc.message}")
    verbose(f"running notebook servers stay on {network_name(old)}: users restart them")
    verbose(f"then remove it: dokku network:destroy {network_name(old)}")
    if not properties.get(new, Prop.NOTEBOOK_IMAGE):  # a pinned image is the admin's
        verbose(f"{new}'s deploy builds {notebook_image(new)}; the old one can go: "
                f"docker rmi {notebook_image(old)}")
    return 0


def rollback(
    old: str, new: str, mounts: tuple[dokku_state.StorageMount, ...], attach: str, why: str
) -> str:
    """Put OLD's /data and gate mounts and network back; return the one-line error for the
    admin (naming only the mounts still missing). The data itself never moved (its rename
    is the last step), so it is where it was."""
    kept = (DATA, GATE_DIR)
    wanted = [m for m in mounts if m.container in kept]
    try:
        for m in dokku_state.mounts(old):
            if m.container in kept and m not in wanted:
                dokku_cli.run("storage:unmount", old, m.spec())
        have = dokku_state.mounts(old)
        for m in wanted:
            if m not in have:
                dokku_cli.run("storage:mount", old, m.spec())
        if dokku_state.attach_post_create(old) != attach:
            dokku_cli.run("network:set", old, "attach-post-create",
                          *create_plan.attach_networks(attach))
    except DokkuError as exc:
        warn(f"jupyterhub: could not restore {old}'s mount and network: {exc.message}")
        try:
            have = dokku_state.mounts(old)
        except DokkuError:
            have = ()
        fix = " && ".join(
            [f"dokku storage:mount {old} {m.spec()}" for m in wanted if m not in have]
            + [f"dokku network:set {old} attach-post-create {attach}".rstrip()]
        )
        return (f"renaming {old}'s hub to {new} failed: {why}. The users' data was not moved "
                f"({storage_root(old)}). Put {old} back by hand (see dokku storage:list {old}): "
                f"{fix}; then run: dokku apps:destroy {new} --force && "
                f"dokku apps:rename {old} {new}")
    return (f"renaming {old}'s hub to {new} failed: {why}. Nothing was moved: {old} is "
            f"unchanged and its users' data is still in {storage_root(old)}. Fix the cause, "
            f"then run: dokku apps:destroy {new} --force && dokku apps:rename {old} {new}")
