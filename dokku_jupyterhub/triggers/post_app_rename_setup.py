"""`post-app-rename-setup OLD NEW` (apps:rename, before the old app is destroyed and the new
one rebuilt): the users' data follows the app.

- plugin properties move to NEW (before OLD's post-delete would drop them);
- storage/OLD is renamed to storage/NEW, so `data_root(NEW)` holds the users' folders, the
  policy and the hub's database (a non-empty leftover storage/NEW is moved aside, never
  deleted);
- the /data mount, the network (`NEW-network`) and the name-derived config (HUB_APP_NAME,
  HUB_IP, HUB_HOST_DATA_DIR, DOCKER_NETWORK_NAME, DOCKER_JUPYTER_IMAGE unless pinned) are
  rewritten on both apps (see appcopy.py for why both);
- the Postgres service keeps its name and its link (dokku-postgres moves the link itself).

Notebook servers still running keep OLD-network; users restart their server once. The old
network and the old notebook images stay for the admin to remove (printed).
"""

from __future__ import annotations

from dokku_jupyterhub import properties, state
from dokku_jupyterhub.output import info1, verbose
from dokku_jupyterhub.paths import data_root
from dokku_jupyterhub.triggers import appcopy


def main(argv: list[str]) -> int:
    old, new = argv[0], argv[1]
    if properties.get(old, "hub-app") is None:
        return 0
    info1(f"jupyterhub: moving {old}'s hub settings and users' data to {new}")
    properties.rename(old, new)
    appcopy.move_data(old, new)
    net = state.network_name(new)
    for app in (old, new):
        appcopy.fix_data_mount(app, str(data_root(new)))
        appcopy.fix_network(app, net)
    appcopy.fix_config(new, properties.get(new, "notebook-image"))
    verbose(f"running notebook servers stay on {state.network_name(old)}: users restart them")
    verbose(f"then remove it: dokku network:destroy {state.network_name(old)}")
    return 0
