"""A hub made by `dokku jupyterhub:create`, on PostgreSQL, logging users in through Azure AD
(the stand-in), spawning their notebook containers for real, and keeping their data, servers
and sessions through deploys. The tests run in file order against one bed."""

from __future__ import annotations

import json
import os
import secrets
from urllib.parse import urlsplit

import pytest
from bed import WAIT_TO_RETIRE, Browser, User, error_text, make_bed, sha256_file, wait_for

from dokku_jupyterhub.hub_runtime.policy import parse_memory

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.postgres]

ADMIN = ("Ada.Admin@school.edu", "ada-admin--school-edu")
STUDENT = ("First.Last@school.edu", "first-last--school-edu")
TWIN = "First-Last@school.edu"  # another account, same hub username
MEMBER = ("Grace.Member@school.edu", "grace-member--school-edu")
STRANGER = "Nobody.Else@school.edu"


@pytest.fixture(scope="module")
def hub(engine, e2e_bases, postgres_ok):
    bed = make_bed(engine, postgres=True, azure=True, bases=e2e_bases,
                   create_args=("--admin", ADMIN[1], "--idle-timeout", "3600"))
    try:
        for upn in (ADMIN[0], STUDENT[0], TWIN, MEMBER[0], STRANGER):
            bed.idp.add(upn)
        app = bed.app
        bed.dokku("jupyterhub:users:add", app, STUDENT[1])
        bed.dokku("jupyterhub:groups:create", app, "physics", "--members-mode", "rw")
        bed.dokku("jupyterhub:groups:create", app, "chem", "--members-mode", "ro")
        bed.dokku("jupyterhub:groups:add-member", app, "physics", MEMBER[1])
        bed.dokku("jupyterhub:groups:add-member", app, "chem", MEMBER[1])
        idp = bed.idp
        bed.dokku("jupyterhub:auth:set", app, "azuread", "--client-id", idp.client_id,
                  "--client-secret", "-", "--tenant-id", idp.tenant,
                  "--callback-url", f"{bed.url}/hub/oauth_callback",
                  "--authorize-url", idp.authorize_url, "--token-url", idp.token_url,
                  "--jwks-url", idp.jwks_url,  # the hub verifies id_tokens with these keys
                  input=idp.client_secret.encode() + b"\n")
        bed.wait_hub()
        yield bed
    finally:
        bed.close()


@pytest.fixture(scope="module")
def users(hub):
    """Logged-in users, made on first use and kept for the module."""
    made: dict[str, User] = {}

    def get(upn: str) -> User:
        if upn not in made:
            browser = Browser(hub)
            resp = browser.login_azure(upn)
            assert resp.ok, (resp.status_code, error_text(resp)[:500])
            made[upn] = User(hub, browser)
        return made[upn]

    return get


def test_create_wired_postgres_and_the_deploy_built_the_notebook_image(hub):
    config = hub.config()
    assert config["DATABASE_URL"].startswith("postgres://")
    assert hub.prop("db-kind") == "postgres"
    # Built by the first deploy's post-deploy; auth:set's restart found images/ unchanged.
    assert hub.prop("last-build-status") in ("ok", "skipped")
    assert hub.notebook_image().id == hub.prop("last-build-image-id")
    assert [d["ok"] for d in hub.deploys()] == [True, True]
    # The hub runs as docker-local runs it: on the app network under its alias.
    hub_c = hub.hub_container()
    assert hub_c.name == f"{hub.app}.web.1"
    aliases = hub_c.attrs["NetworkSettings"]["Networks"][hub.network]["Aliases"]
    assert f"{hub.app}.web" in aliases
    assert hub_c.attrs["HostConfig"]["Init"] is True


def test_login_maps_the_upn_to_the_old_setups_username(hub, users):
    before = len(hub.idp.token_requests())
    student = users(STUDENT[0])
    assert student.name == STUDENT[1]
    assert len(hub.idp.token_requests()) > before, "the hub never exchanged the code"
    assert hub.idp.jwks_requests(), "the hub never fetched the keys to verify the id_token"
    assert student.browser.whoami()["admin"] is False
    assert users(ADMIN[0]).browser.whoami()["admin"] is True


def test_a_second_identity_mapping_to_the_same_name_is_refused(hub, users):
    users(STUDENT[0])  # the first identity owns the name
    browser = Browser(hub)
    resp = browser.login_azure(TWIN)
    assert resp.status_code == 403
    assert "already belongs to another account" in error_text(resp)
    assert browser.s.get(f"{hub.url}/hub/api/user", timeout=10).status_code in (401, 403)


def test_someone_not_in_the_policy_is_refused(hub):
    browser = Browser(hub)
    resp = browser.login_azure(STRANGER)
    assert resp.status_code == 403
    assert browser.name is None


def test_server_starts_answers_and_keeps_files_across_spawns(hub, users):
    student = users(STUDENT[0])
    student.start()
    lab = student.browser.open_server()
    assert lab.status_code == 200 and urlsplit(lab.url).path == f"/user/{student.name}/lab"
    status = student.browser.get(f"/user/{student.name}/api/status")
    assert status.status_code == 200 and "started" in status.json()
    text = f"written by the e2e bed {secrets.token_hex(4)}\n"
    assert student.put_file("hello.txt", text).status_code in (200, 201)
    on_host = hub.data_root / "users" / student.name / "hello.txt"
    assert on_host.read_text() == text
    st = os.stat(on_host)
    assert (st.st_uid, st.st_gid) == (1000, 100)
    student.stop()
    student.start()
    again = student.get_file("hello.txt")
    assert again.status_code == 200 and again.json()["content"] == text


def test_folders_and_their_modes(hub, users):
    admin, student, member = users(ADMIN[0]), users(STUDENT[0]), users(MEMBER[0])
    for user in (admin, student, member):
        if not (user.server() or {}).get("ready"):
            user.start()
    # shared: rw for admins, ro for everyone else
    assert admin.put_file("shared/notice.txt", "from the admin\n").status_code == 201
    assert student.get_file("shared/notice.txt").json()["content"] == "from the admin\n"
    assert student.put_file("shared/mine.txt", "no\n").status_code >= 400
    assert not (hub.data_root / "shared" / "mine.txt").exists()
    # colab: rw for all
    assert student.put_file("colab/s.txt", "s\n").status_code == 201
    assert admin.put_file("colab/a.txt", "a\n").status_code == 201
    # groups: members get their groups with the group's mode, others nothing
    assert member.put_file("groups/physics/g.txt", "g\n").status_code == 201
    assert member.get_file("groups/chem").status_code == 200
    assert member.put_file("groups/chem/g.txt", "g\n").status_code >= 400
    assert student.get_file("groups/physics").status_code == 404
    assert student.get_file("groups").status_code == 404
    # users: only admins see everyone's folders
    listing = admin.get_file("users").json()
    assert {STUDENT[1], MEMBER[1]} <= {item["name"] for item in listing["content"]}
    assert student.get_file("users").status_code == 404


def test_memory_limit_follows_the_policy_and_changes_apply_at_the_next_spawn(hub, users):
    student = users(STUDENT[0])
    if not (student.server() or {}).get("ready"):
        student.start()
    assert student.container().attrs["HostConfig"]["Memory"] == parse_memory("350m")
    hub_id, deploys = hub.hub_container().id, len(hub.deploys())
    hub.dokku("jupyterhub:limits:set", hub.app, student.name, "--memory", "512m")
    student.stop()
    student.start()
    assert student.container().attrs["HostConfig"]["Memory"] == parse_memory("512m")
    assert hub.hub_container().id == hub_id, "limits:set restarted the hub"
    assert len(hub.deploys()) == deploys


def test_a_server_killed_for_memory_fails_at_once_and_says_why(hub, users):
    """A limit too small to start a server (one an older policy may hold: new ones are
    refused): the spawn fails as soon as the container dies, naming the reason, and report
    shows it. The wait is a bound against hanging, not a speed assertion."""
    student = users(STUDENT[0])
    if student.server():
        student.stop()
    path = hub.data_root / "policy.json"
    saved = path.read_bytes()
    doc = json.loads(saved)
    doc["limits"] = {"default": {"memory": "48m"}, "users": {}, "groups": {}}
    path.write_text(json.dumps(doc))
    try:
        resp = student.hub("POST", f"/users/{student.name}/server")
        if resp.status_code == 500:  # it died before the hub's slow-spawn answer (10 s)
            assert "out of memory" in resp.json()["message"], resp.text
        else:
            assert resp.status_code == 202, resp.text
            wait_for("the spawn to fail", lambda: not student.hub(
                "GET", f"/users/{student.name}").json().get("pending"), 90)
        assert not student.server()
        report = hub.dokku("jupyterhub:report", hub.app,
                           "--jupyterhub-last-spawn-failure").stdout.decode()
        assert f"{student.name}: out of memory" in report, report
        assert "memory limit of 48m" in report
        logs = hub.hub_container().logs(tail=200).decode(errors="replace")
        assert f"Server of {student.name} failed to start: out of memory" in logs
    finally:
        path.write_bytes(saved)


def test_notebook_container_is_not_root_and_cannot_reach_docker(hub, users):
    student = users(STUDENT[0])
    if not (student.server() or {}).get("ready"):
        student.start()
    c = student.container()
    assert c.exec_run(["id", "-u"]).output.decode().strip() == "1000"
    assert not c.attrs["HostConfig"]["Privileged"]
    mounted = {m["Source"] for m in c.attrs["Mounts"]} | {m["Destination"]
                                                          for m in c.attrs["Mounts"]}
    assert not any("docker.sock" in path for path in mounted)
    probe = c.exec_run(["sh", "-c", "ls -l /var/run/docker.sock /run/docker.sock"])
    assert probe.exit_code != 0
    # Not one of the app's own containers for Dokku, which stops and removes those with the
    # hub (ps:stop, apps:rename, apps:destroy: scheduler-docker-local's label filter).
    assert "com.dokku.app-name" not in (c.labels or {})
    assert c.labels["org.dokku-jupyterhub.app"] == hub.app


def test_redeploy_keeps_servers_sessions_and_database(hub, users):
    student = users(STUDENT[0])
    if not (student.server() or {}).get("ready"):
        student.start()
    server_id = student.container().id
    assert student.browser.open_server().ok  # the browser holds the server's own cookie
    assert student.browser.get(f"/user/{student.name}/api/status").ok
    old_hub = hub.hub_container().id
    secret = hub.data_root / "jupyterhub_cookie_secret"
    secret_sum = sha256_file(secret)
    hub.dokku("ps:rebuild", hub.app)
    assert hub.hub_container().id != old_hub
    wait_for("the old hub container to be stopped",
             lambda: not hub.cli.containers.get(old_hub).attrs["State"]["Running"],
             WAIT_TO_RETIRE + 60)
    # SIGTERM made it exit cleanly: its restart policy (on-failure) never brought it back
    # beside the new hub during the wait-to-retire.
    old_state = hub.cli.containers.get(old_hub).attrs
    assert old_state["RestartCount"] == 0, old_state["State"]
    hub.wait_hub()
    # The user's server was never touched and is reached through the new hub's proxy.
    assert student.container().id == server_id
    status = wait_for("the running server through the new hub",
                      lambda: student.browser.get(f"/user/{student.name}/api/status").ok, 60)
    assert status
    # Same cookie secret, same database: the browser session is still logged in.
    assert sha256_file(secret) == secret_sum
    assert student.browser.whoami()["name"] == student.name
    names = {u["name"] for u in hub.plugin_api("/users")}
    assert {ADMIN[1], STUDENT[1]} <= names
    db = hub.config()["DATABASE_URL"].rsplit("/", 1)[1]
    assert STUDENT[1] in hub.pg.psql("SELECT name FROM users", db=db).split()


def test_unchanged_deploy_skips_the_notebook_build(hub, users):
    # No server uses the notebook image: Dokku's cleanup before the build removes every
    # unused image that carries its app label, which notebook images must not carry.
    student = users(STUDENT[0])
    if student.server():
        student.stop()
    image_id = hub.notebook_image().id
    built_at = hub.prop("last-build-time")
    hub.dokku("ps:rebuild", hub.app)
    assert hub.notebook_image().id == image_id
    assert hub.prop("last-build-time") == built_at or hub.prop("last-build-status") == "skipped"


def test_changed_images_folder_rebuilds_and_the_next_spawn_uses_it(hub, users):
    student = users(STUDENT[0])
    old_image = hub.notebook_image().id
    files = hub.export()
    marker = secrets.token_hex(4)
    files["images/Dockerfile"] += f'LABEL org.dokku-jupyterhub.e2e-marker="{marker}"\n'.encode()
    hub.push(files)
    new_image = hub.notebook_image()
    assert new_image.id != old_image
    assert new_image.labels.get("org.dokku-jupyterhub.e2e-marker") == marker
    if student.server():
        student.stop()
    student.start()
    assert student.container().image.id == new_image.id


# --- the hub's Docker access: the gate, and nothing else ---------------------------------

FORGED = r'''
import io, json, sys
import docker
from docker.errors import APIError

app, image, student_id, other_id, root, student = sys.argv[1:7]
c = docker.APIClient(base_url="unix:///run/dokku-gate/docker.sock", version="auto", timeout=30)
labels = {"org.dokku-jupyterhub.app": app, "org.dokku-jupyterhub.user": student}
work = "/home/jovyan/work"

def create(name, **host):
    binds = host.pop("binds", {f"{root}/users/{student}": {"bind": work, "mode": "rw"}})
    return c.create_container(image, name=f"{app}-jupyter-{name}", user="1000:100",
                              labels=labels, host_config=c.create_host_config(
                                  binds=binds, network_mode=f"{app}-network", **host))

tries = {
    "privileged": lambda: create("x1", privileged=True),
    "bind /": lambda: create("x2", binds={"/": {"bind": "/host", "mode": "rw"}}),
    "another user's folder rw": lambda: create("x3", binds={
        f"{root}/users/ada-admin--school-edu": {"bind": work, "mode": "rw"}}),
    "pid host": lambda: create("x4", pid_mode="host"),
    "another image": lambda: c.create_container(
        "djh-test/bookworm:minbase", name=f"{app}-jupyter-x5", user="1000:100",
        labels=labels, host_config=c.create_host_config(network_mode=f"{app}-network")),
    "exec into a student's server": lambda: c.exec_create(student_id, ["id"]),
    "stop another app's container": lambda: c.stop(other_id),
    "build": lambda: list(c.build(fileobj=io.BytesIO(b"FROM scratch\n"), tag="evil:1")),
    "create a network": lambda: c.create_network("evil-net"),
    "the raw socket": lambda: docker.APIClient(base_url="unix:///var/run/docker.sock",
                                               version="1.41").version(),
}
out = {}
for what, call in tries.items():
    try:
        call()
        out[what] = "ALLOWED"
    except APIError as exc:
        out[what] = [exc.status_code, str(exc.explanation)]
    except Exception as exc:
        out[what] = ["no-socket", type(exc).__name__]
listed = [n for x in c.containers(all=True) for n in x["Names"]]
print(json.dumps({"results": out, "listed": listed}))
'''


def engine_state(cli) -> dict:
    return {
        "containers": sorted((c["Id"], c["State"]) for c in cli.api.containers(all=True)),
        "networks": sorted(n["Id"] for n in cli.api.networks()),
        "images": sorted(i["Id"] for i in cli.api.images(all=True)),
    }


def test_the_hub_has_no_docker_socket_only_the_gate(hub):
    container = hub.hub_container()
    mounts = {m["Destination"]: m["Source"] for m in container.attrs["Mounts"]}
    assert "/var/run/docker.sock" not in mounts
    assert mounts["/run/dokku-gate"] == str(hub.data_root.parent / "gate")
    code, _ = container.exec_run(["test", "-e", "/var/run/docker.sock"])
    assert code != 0
    gate = hub.cli.containers.get(f"dokku.jupyterhub.{hub.app}.gate")
    assert gate.status == "running"
    gate_mounts = {m["Destination"]: (m["Source"], m["RW"]) for m in gate.attrs["Mounts"]}
    assert gate_mounts["/var/run/docker.sock"][0] == "/var/run/docker.sock"
    assert gate_mounts["/data"] == (str(hub.data_root), False)
    assert gate.attrs["HostConfig"]["NetworkMode"] == "none"


def test_forged_docker_calls_from_inside_the_hub_are_refused_and_change_nothing(hub, users):
    student = users(STUDENT[0])
    if not (student.server() or {}).get("ready"):
        student.start()
    other = hub.cli.containers.run("djh-test/bookworm:minbase", ["sleep", "300"], detach=True,
                                   labels={"com.dokku.app-name": "someone-else"},
                                   name=f"{hub.app}-bystander")
    try:
        before = engine_state(hub.cli)
        code, out = hub.hub_container().exec_run(
            ["python3", "-c", FORGED, hub.app, hub.config()["DOCKER_JUPYTER_IMAGE"],
             student.container().id, other.id, str(hub.data_root), student.name])
        assert code == 0, out.decode()[-2000:]
        answer = json.loads(out.decode().strip().splitlines()[-1])
        results = answer["results"]
        assert engine_state(hub.cli) == before  # nothing made, stopped or removed
    finally:
        other.remove(force=True)
    assert results.pop("the raw socket")[0] == "no-socket"
    # The hub sees its users' servers, not the proxy, the gate or anything else.
    assert answer["listed"] and all(
        n.startswith(f"/{hub.app}-jupyter-") for n in answer["listed"]), answer["listed"]
    for what, result in results.items():
        assert result != "ALLOWED", what
        status, message = result
        assert status == 403 and "docker gate" in message, (what, result)
    # Each refusal is one line in the gate's log.
    log = hub.cli.containers.get(f"dokku.jupyterhub.{hub.app}.gate").logs().decode()
    assert log.count("refused") >= len(results)
