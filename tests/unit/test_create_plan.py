"""The create plan's decisions, pure: from what Dokku has (`dokku_state.Observed`) to the
steps still missing."""

from __future__ import annotations

from dokku_jupyterhub import create_plan, dokku_state
from dokku_jupyterhub.hub_runtime.settings import ADMIN_PASSWORD_MIN_LENGTH
from dokku_jupyterhub.paths import data_root, gate_dir

SECRETS = create_plan.Secrets("pw-candidate-" + "c" * 32, "token-candidate",
                              "proxy-token-candidate")
PW = "p" * ADMIN_PASSWORD_MIN_LENGTH  # an existing password the hub accepts


def done_state(app: str = "hub", **changes) -> dokku_state.Observed:
    """What Dokku holds after a complete create_plan."""
    opts = create_plan.Options(app=app)
    base = dokku_state.Observed(
        app_exists=True,
        config=create_plan.hub_config(opts, dokku_state.Observed(),
                                      create_plan.Secrets(PW, "tok", "proxy-tok")),
        mounts=(dokku_state.StorageMount(str(gate_dir(app)), "/run/dokku-gate"),
                dokku_state.StorageMount(str(data_root(app)), "/data")),
        domains=("hub.example.edu",),
        ports=("http:80:8000",),
        network_exists=True,
        attach_post_create=f"{app}-network",
        bind_all_interfaces="false",
        nginx={"client-max-body-size": "30m", "proxy-read-timeout": "3600s"},
        postgres_installed=True,
        postgres_service_exists=True,
        postgres_linked=True,
        has_source=True,
        deployed=True,
        properties={"hub-app": "true", "domains": "hub.example.edu", "idle-timeout": "300",
                    "max-body-size": "30m", "db-kind": "postgres",
                    "postgres-service": f"{app}-db", "proxy-listener": "127.42.0.2"},
        checks_disabled="web",
    )
    fields = {**base.__dict__, **changes}
    return dokku_state.Observed(**fields)


POLICY = {"version": 1, "admins": ["alice"], "limits": {"default": {"memory": "350m"}}}


def test_plan_of_a_complete_app_is_empty(dokku_env):
    p = create_plan.plan(create_plan.Options(app="hub"), done_state(), SECRETS, POLICY, False)
    assert p.steps == ()


def test_plan_replaces_a_foreign_data_mount_first(dokku_env):
    mount = dokku_state.StorageMount
    seen = done_state(mounts=(mount(str(gate_dir("hub")), "/run/dokku-gate"),
                              mount("/var/lib/dokku/data/storage/old/data", "/data")))
    steps = create_plan.plan(create_plan.Options(app="hub"), seen, SECRETS, POLICY, False).steps
    assert [s.dokku for s in steps] == [
        ("storage:unmount", "hub", "/var/lib/dokku/data/storage/old/data:/data"),
        ("storage:mount", "hub", f"{data_root('hub')}:/data"),
        ("ps:restart", "hub"),
    ]


def test_plan_keeps_https_mapping_when_fixing_ports(dokku_env):
    seen = done_state(ports=("http:80:5000", "https:443:8000"))
    steps = create_plan.plan(create_plan.Options(app="hub"), seen, SECRETS, POLICY, False).steps
    assert steps[0].dokku == ("ports:set", "hub", "http:80:8000", "https:443:8000")
    assert steps[-1].dokku == ("ps:restart", "hub")


def test_plan_uses_a_database_the_admin_linked(dokku_env):
    config = {**done_state().config,
              "DATABASE_URL": "postgres://u:p@dokku-postgres-school-db:5432/school_db"}
    seen = done_state(postgres_linked=False, postgres_service_exists=False, config=config,
                      properties={**done_state().properties, "postgres-service": ""})
    steps = create_plan.plan(create_plan.Options(app="hub"), seen, SECRETS, POLICY, False).steps
    assert not any(s.dokku[:1] in (("postgres:create",), ("postgres:link",)) for s in steps)


def test_plan_rebuilds_an_app_whose_first_deploy_was_interrupted(dokku_env):
    seen = done_state(deployed=False)
    steps = create_plan.plan(create_plan.Options(app="hub"), seen, SECRETS, POLICY, False).steps
    assert [s.dokku for s in steps] == [("ps:rebuild", "hub")]


def test_plan_never_regenerates_secrets(dokku_env):
    seen = done_state()
    wanted = create_plan.hub_config(create_plan.Options(app="hub"), seen, SECRETS)
    assert wanted["HUB_ADMIN_PASSWORD"] == PW and wanted["HUB_PLUGIN_API_TOKEN"] == "tok"


def test_plan_replaces_only_an_admin_password_the_hub_refuses(dokku_env):
    config = {**done_state().config, "HUB_ADMIN_PASSWORD": "p" * (ADMIN_PASSWORD_MIN_LENGTH - 1)}
    p = create_plan.plan(create_plan.Options(app="hub"), done_state(config=config), SECRETS,
                         POLICY, False)
    assert [s.dokku for s in p.steps] == [
        ("config:set", "--no-restart", "hub", f"HUB_ADMIN_PASSWORD={SECRETS.admin_password}"),
        ("ps:restart", "hub"),
    ]
    assert SECRETS.admin_password not in " ".join(s.what for s in p.steps) + " ".join(p.notes)


def test_plan_marks_the_hub_app_before_creating_it(dokku_env):
    steps = create_plan.plan(create_plan.Options(app="hub", admins=("alice",)),
                             dokku_state.Observed(), SECRETS, None, True).steps
    assert (steps[0].local, steps[0].args) == ("property", ("hub-app", "true"))
    assert steps[1].dokku == ("apps:create", "hub")


def test_plan_records_a_postgres_service_before_creating_it(dokku_env):
    seen = done_state(postgres_service_exists=False, postgres_linked=False,
                      properties={"hub-app": "true"})
    steps = create_plan.plan(create_plan.Options(app="hub"), seen, SECRETS, POLICY, False).steps
    i = next(i for i, s in enumerate(steps) if s.dokku[:1] == ("postgres:create",))
    assert steps[i - 1].args == ("postgres-service", "hub-db")


def test_a_hub_on_sqlite_stays_on_sqlite(dokku_env):
    seen = done_state(postgres_service_exists=False, postgres_linked=False,
                      config={k: v for k, v in done_state().config.items()
                              if k != "DATABASE_URL"},
                      properties={**done_state().properties, "db-kind": "sqlite",
                                  "postgres-service": ""})
    steps = create_plan.plan(create_plan.Options(app="hub"), seen, SECRETS, POLICY, False).steps
    assert steps == ()


def test_plan_pins_bind_all_interfaces_off():
    """Dokku's network install trigger turns bind-all-interfaces on for every app without
    the property: create sets it, and repairs it (with a restart) when it was turned on."""
    unset = create_plan.plan(create_plan.Options(app="hub"), done_state(bind_all_interfaces=None),
                             SECRETS, POLICY, False).steps
    assert [s.dokku for s in unset] == [("network:set", "hub", "bind-all-interfaces", "false")]
    on = create_plan.plan(create_plan.Options(app="hub"), done_state(bind_all_interfaces="true"),
                          SECRETS, POLICY, False).steps
    assert [s.dokku for s in on] == [("network:set", "hub", "bind-all-interfaces", "false"),
                                     ("ps:restart", "hub")]


def test_plan_maps_port_80_again_after_a_first_domain():
    """An app without vhosts (NO_VHOST=1) loses its http:80 port map at its first domain."""
    seen = done_state(domains=(), config={**done_state().config, "NO_VHOST": "1"})
    steps = create_plan.plan(create_plan.Options(app="hub", domains=("hub.example.edu",)), seen,
                             SECRETS, POLICY, False).steps
    dokku = [s.dokku[0] for s in steps if s.dokku]
    assert dokku[:2] == ["domains:add", "ports:set"]


def test_a_new_hub_never_gets_the_docker_socket(dokku_env):
    steps = create_plan.plan(create_plan.Options(app="hub", admins=("alice",)),
                             dokku_state.Observed(), SECRETS, None).steps
    mounts = [s.dokku[2] for s in steps if s.dokku[:1] == ("storage:mount",)]
    assert f"{gate_dir('hub')}:/run/dokku-gate" in mounts
    assert not any("docker.sock" in m for m in mounts)


def test_the_socket_of_an_older_hub_goes_only_once_its_image_has_the_gate(dokku_env):
    mount = dokku_state.StorageMount
    socket = mount(create_plan.DOCKER_SOCKET, create_plan.DOCKER_SOCKET)
    older = done_state(mounts=(*done_state().mounts, socket))
    plan = create_plan.plan(create_plan.Options(app="hub"), older, SECRETS, POLICY, False)
    assert plan.steps == ()  # its hub still talks to the socket: kept
    ready = done_state(mounts=(*done_state().mounts, socket), hub_has_gate=True)
    steps = create_plan.plan(create_plan.Options(app="hub"), ready, SECRETS, POLICY, False).steps
    assert [s.dokku for s in steps] == [
        ("storage:unmount", "hub", "/var/run/docker.sock:/var/run/docker.sock"),
        ("ps:restart", "hub"),
    ]
