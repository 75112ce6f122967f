"""`post-app-clone OLD NEW` (apps:clone, after every plugin's post-app-clone-setup and before
the clone is built): undo what the plugins that run after `jupyterhub` copied from OLD.

On Dokku 0.38 the storage plugin copies OLD's mounts (so NEW would mount OLD's data at
/data), the network plugin OLD's `attach-post-create` (OLD's network) and
`static-web-listener` (OLD's proxy), and dokku-postgres
records NEW as linked to OLD's database. Each is fixed here, idempotently; the rebuild
(ps, which runs after this plugin) then starts the clone on its own data and network.
"""

from __future__ import annotations

from dokku_jupyterhub import dokku_cli, dokku_state, properties, rename_clone
from dokku_jupyterhub.hub_apps import is_hub_app
from dokku_jupyterhub.hub_runtime.contract import Env, Prop, network_name
from dokku_jupyterhub.output import verbose
from dokku_jupyterhub.paths import data_root


def originals_services(old: str) -> list[str]:
    """The services dokku-postgres may have linked the clone to: the one create made for the
    original, and the one its DATABASE_URL points at."""
    found = [properties.get(old, Prop.POSTGRES_SERVICE),
             dokku_state.service_of_url(dokku_state.config(old).get(Env.DATABASE_URL))]
    return list(dict.fromkeys(s for s in found if s))


def main(argv: list[str]) -> int:
    new = argv[1]
    if not is_hub_app(new):
        return 0
    rename_clone.fix_data_mount(new, str(data_root(new)))
    rename_clone.fix_gate_mount(new, new)
    rename_clone.fix_network(new, network_name(new), drop=network_name(argv[0]))
    # The network plugin copied the original's static-web-listener: the clone's nginx would
    # send its users to the original's proxy. Its own deploy points it at its own proxy.
    if dokku_state.static_web_listener(new):
        dokku_cli.run("network:set", new, "static-web-listener")
    rename_clone.one_hub_at_a_time(new)
    if dokku_state.plugin_enabled("postgres"):
        for service in originals_services(argv[0]):
            if dokku_state.postgres_exists(service) and new in dokku_state.postgres_links(service):
                # post-app-clone-setup unset the clone's DATABASE_URL already, so
                # dokku-postgres drops the link and then fails with "Not linked to app":
                # only a link it left behind is an error.
                dokku_cli.run("postgres:unlink", service, new, "--no-restart", check=False)
                if new in dokku_state.postgres_links(service):
                    dokku_cli.run("postgres:unlink", service, new, "--no-restart")
                verbose(f"{new} no longer uses {service} (the original's database)")
    if Env.DATABASE_URL in dokku_state.config(new):
        dokku_cli.run("config:unset", "--no-restart", new, Env.DATABASE_URL)
    verbose(f"give {new} its own Postgres and review it: dokku jupyterhub:create {new}")
    return 0
