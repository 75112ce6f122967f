"""`post-app-clone-setup OLD NEW` (apps:clone): the clone is a second, independent hub.

It must never share the original's data, database or secrets, since two hubs writing one
database or one users' tree corrupt both. So NEW gets:
- OLD's plugin properties, minus what describes OLD's resources (postgres-service, db-kind,
  build records, domains);
- its own, empty data tree, with a copy of OLD's policy (admins, groups, limits: settings,
  not user data) so its admins can log in;
- fresh HUB_ADMIN_PASSWORD, HUB_PLUGIN_API_TOKEN and CONFIGPROXY_AUTH_TOKEN, its own proxy
  address (both hubs' proxies run at once), its own name-derived config, and no
  DATABASE_URL (SQLite until `dokku jupyterhub:create NEW` gives it its own Postgres);
- its own /data mount and network (fixed again by post-app-clone, after the storage and
  network plugins have copied OLD's).
"""

from __future__ import annotations

import shutil

from dokku_jupyterhub import (
    companions,
    create_plan,
    datadirs,
    dokku_cli,
    dokku_state,
    policy_store,
    properties,
    rename_clone,
)
from dokku_jupyterhub.hub_apps import is_hub_app
from dokku_jupyterhub.hub_runtime.contract import BuildRecord, Env, Prop, network_name
from dokku_jupyterhub.output import info1, verbose
from dokku_jupyterhub.paths import data_root

NOT_COPIED = (Prop.POSTGRES_SERVICE, Prop.DB_KIND, Prop.DOMAINS, Prop.PROXY_LISTENER,
              *BuildRecord.KEYS)


def main(argv: list[str]) -> int:
    old, new = argv[0], argv[1]
    if not is_hub_app(old):
        return 0
    info1(f"jupyterhub: setting up {new} as a separate hub (own data, secrets and database)")
    properties.clone(old, new)
    for key in NOT_COPIED:
        properties.delete(new, key)  # db-kind too: create decides the clone's database

    rename_clone.clear_for(new)
    datadirs.ensure(new)
    policy = policy_store.policy_path(old)
    if policy.exists():
        shutil.copyfile(policy, policy_store.policy_path(new))

    candidates = create_plan.Secrets.fresh()  # the same generator as create: the hub accepts it
    fresh = {
        Env.ADMIN_PASSWORD: candidates.admin_password,
        Env.API_TOKEN: candidates.api_token,
        Env.PROXY_TOKEN: candidates.proxy_token,
    }
    rename_clone.fix_config(new, properties.get(new, Prop.NOTEBOOK_IMAGE), fresh)
    companions.listener_of(new)
    if Env.DATABASE_URL in dokku_state.config(new):
        dokku_cli.run("config:unset", "--no-restart", new, Env.DATABASE_URL)
    rename_clone.fix_data_mount(new, str(data_root(new)))
    rename_clone.fix_gate_mount(new, new)
    rename_clone.fix_network(new, network_name(new), drop=network_name(old))
    verbose(f"{new} has its own data tree in {data_root(new)} and a new admin password")
    return 0
