"""The docker gate's rules (docker_rules.check): what the hub may ask of the Docker engine.

The create bodies here are the bytes docker-py itself would put on the wire for what the
real DockerSpawner asks (its create_object, configured as jupyterhub_config.py configures
it, with the spawn decision applied by spawn.apply_to_dockerspawner), stopped just before
the socket; the forged ones are the same made by a hub that sets something else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import docker
import pytest
import requests
from docker.types import DeviceRequest
from dockerspawner import DockerSpawner
from jupyterhub.objects import Hub
from support.hub_user import HubUser

from dokku_jupyterhub.hub_runtime import contract, docker_rules, policy, spawn
from dokku_jupyterhub.hub_runtime.docker_rules import LABEL_NOTEBOOK_GROUPS, GateContext, check
from dokku_jupyterhub.hub_runtime.spawn_decision import SpawnDecision, decide

APP = "hub"
ROOT = "/host/data"
IMAGE = contract.notebook_image(APP)
IMAGE_ID = "sha256:" + "a" * 64
OTHER_IMAGE = "djh-test/bookworm:minbase"
TOKEN = "tok-3f1e-never-in-a-reason"
CTX = GateContext(
    app=APP,
    network=contract.network_name(APP),
    images=(IMAGE,),
    host_root=ROOT,
    prefix=contract.container_prefix(APP),
)
DOC = policy.validate({
    "version": 1,
    "admins": ["teacher"],
    "users": ["ada"],
    "groups": {"lab": {"members_mode": "ro", "members": ["bob"]}},
    "limits": {"default": {"memory": "350m"}, "users": {"bob": {"memory": "1G", "cpu": 1.5}}},
})
OWN = {contract.LABEL_NOTEBOOK_APP: APP, contract.LABEL_NOTEBOOK_USER: "ada"}
CONTAINERS = {
    "hub-jupyter-ada": OWN,
    "c0ffee": OWN,
    "other-jupyter-ada": {contract.LABEL_NOTEBOOK_APP: "other",
                          contract.LABEL_NOTEBOOK_USER: "ada"},
    # the plugin's proxy: the app's label, but not a notebook server
    "dokku.jupyterhub.hub.proxy": {contract.LABEL_NOTEBOOK_APP: APP, contract.LABEL_ROLE: "proxy"},
    "hub.web.1": {contract.LABEL_DOKKU_APP: APP},
}
IMAGES = {IMAGE: IMAGE_ID, "dokku/hub-notebook": IMAGE_ID, IMAGE_ID: IMAGE_ID,
          OTHER_IMAGE: "sha256:" + "b" * 64}


def labels_of(ref: str) -> dict[str, str] | None:
    return CONTAINERS.get(ref)


def image_of(ref: str) -> str | None:
    return IMAGES.get(ref)


# ---- what DockerSpawner and docker-py send ---------------------------------------------------


class _Wire(docker.APIClient):
    """docker-py's own client, stopped where requests would send: records the request."""

    def __init__(self) -> None:
        super().__init__(base_url="unix:///nonexistent/docker.sock", version="1.41")
        self.sent: list[requests.PreparedRequest] = []

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        self.sent.append(requests.Request("POST", url, data=data, params=kwargs.get("params"),
                                          headers=kwargs.get("headers")).prepare())
        return _Created()


class _Created:
    status_code = 201

    def raise_for_status(self) -> None:
        pass

    def json(self) -> dict[str, str]:
        return {"Id": "0" * 64}


def hub_spawner(user: str, decision: SpawnDecision, client: docker.APIClient,
                ctx: GateContext = CTX) -> DockerSpawner:
    """A DockerSpawner as jupyterhub_config.py makes it, the decision applied as the hub's
    pre-spawn hook applies it, talking to `client`."""
    cls = type("HubSpawner", (DockerSpawner,), {"_client": client})
    spawner = cls(
        user=HubUser(user), hub=Hub(), api_token=TOKEN,
        image=decision.image, pull_policy="never", network_name=ctx.network,
        use_internal_ip=True, remove=True, prefix=ctx.prefix, name_template="{prefix}-{username}",
        cmd=["jupyterhub-singleuser"], notebook_dir="/home/jovyan/work",
        format_volume_name=spawn.literal_volume_name,
    )
    spawn.apply_to_dockerspawner(spawner, decision, ctx.app)
    return spawner


def as_the_gate_sees(prepared: requests.PreparedRequest) -> tuple[str, str, dict, bytes | None]:
    parts = urlsplit(prepared.url)
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return (prepared.method, unquote(parts.path),
            parse_qs(parts.query, keep_blank_values=True), body)


def create_request(
    user: str = "ada",
    doc: dict[str, Any] = DOC,
    tweak: Callable[[DockerSpawner], None] | None = None,
    extra_groups: tuple[str, ...] = (),
) -> tuple[str, str, dict, bytes | None]:
    """What the hub's DockerSpawner sends to create `user`'s server (after `tweak`)."""
    decision = decide(doc, user, ROOT, IMAGE, extra_groups, allow_all=True)
    wire = _Wire()
    spawner = hub_spawner(user, decision, wire)
    if tweak:
        tweak(spawner)
    asyncio.run(spawner.create_object())
    (prepared,) = wire.sent
    return as_the_gate_sees(prepared)


def judge(request: tuple[str, str, dict, bytes | None], doc: dict[str, Any] = DOC,
          ctx: GateContext = CTX) -> docker_rules.Verdict:
    method, path, query, body = request
    return check(method, path, query, body, ctx, doc, labels_of, image_of)


def edited(request: tuple[str, str, dict, bytes | None],
           edit: Callable[[dict[str, Any]], None]) -> tuple[str, str, dict, bytes]:
    method, path, query, body = request
    config = json.loads(body or b"")
    edit(config)
    return method, path, query, json.dumps(config).encode()


# ---- the create the hub sends ----------------------------------------------------------------


def test_the_body_is_what_docker_py_sends():
    method, path, query, body = create_request()
    config = json.loads(body)
    assert (method, path, query) == ("POST", "/v1.41/containers/create",
                                     {"name": ["hub-jupyter-ada"]})
    assert set(config) == {"ExposedPorts", "User", "Tty", "OpenStdin", "StdinOnce",
                           "AttachStdin", "AttachStdout", "AttachStderr", "Env", "Cmd", "Image",
                           "Volumes", "NetworkDisabled", "HostConfig", "Labels"}
    assert config["HostConfig"] == {
        "Memory": 350 * 1024**2,
        "MemorySwap": 350 * 1024**2,
        "NetworkMode": "hub-network",
        "Binds": [f"{ROOT}/users/ada:/home/jovyan/work:rw",
                  f"{ROOT}/user-settings/ada:/home/jovyan/.jupyter/lab:rw",
                  f"{ROOT}/shared:/home/jovyan/work/shared:ro",
                  f"{ROOT}/colab:/home/jovyan/work/colab:rw"],
        "Links": [],
        "Mounts": [],
    }
    assert f"JUPYTERHUB_API_TOKEN={TOKEN}" in config["Env"]


@pytest.mark.parametrize("user", ["ada", "teacher", "bob"])
def test_the_hubs_own_create_is_allowed(user):
    assert judge(create_request(user)) == docker_rules.Verdict(True)


def test_a_cpu_limit_is_sent_as_docker_py_sends_it():
    request = create_request("bob")
    host = json.loads(request[3])["HostConfig"]
    assert (host["CpuPeriod"], host["CpuQuota"], host["Memory"]) == (100_000, 150_000, 1024**3)
    assert judge(request).allowed


def test_the_version_prefix_is_optional_and_the_image_may_be_named_by_id():
    method, path, query, body = create_request()
    assert judge((method, "/containers/create", query, body)).allowed
    by_id = edited(create_request(), lambda c: c.update(Image=IMAGE_ID))
    assert judge(by_id).allowed


def _volume(host: str, bind: str, mode: str) -> Callable[[DockerSpawner], None]:
    def tweak(spawner: DockerSpawner) -> None:
        spawner.volumes = {**spawner.volumes, host: {"bind": bind, "mode": mode}}
    return tweak


def _host(**kwargs: Any) -> Callable[[DockerSpawner], None]:
    def tweak(spawner: DockerSpawner) -> None:
        spawner.extra_host_config = {**spawner.extra_host_config, **kwargs}
    return tweak


def _create(**kwargs: Any) -> Callable[[DockerSpawner], None]:
    def tweak(spawner: DockerSpawner) -> None:
        spawner.extra_create_kwargs = {**spawner.extra_create_kwargs, **kwargs}
    return tweak


def _set(**attrs: Any) -> Callable[[DockerSpawner], None]:
    def tweak(spawner: DockerSpawner) -> None:
        for key, value in attrs.items():
            setattr(spawner, key, value)
    return tweak


def _drop_volume(host: str) -> Callable[[DockerSpawner], None]:
    def tweak(spawner: DockerSpawner) -> None:
        spawner.volumes = {k: v for k, v in spawner.volumes.items() if k != host}
    return tweak


FORGED: dict[str, tuple[Callable[[DockerSpawner], None], str]] = {
    "privileged": (_host(privileged=True), "HostConfig.Privileged is not allowed"),
    "cap-add": (_host(cap_add=["SYS_ADMIN"]), "HostConfig.CapAdd is not allowed"),
    "bind-root": (_volume("/", "/host", "rw"), "/:/host:rw is not a folder of ada's"),
    "other-users-folder-rw": (_volume(f"{ROOT}/users/bob", "/home/jovyan/work/bob", "rw"),
                              f"{ROOT}/users/bob:/home/jovyan/work/bob:rw is not a folder"),
    "extra-bind": (_volume(f"{ROOT}/groups/lab", "/home/jovyan/work/groups/lab", "ro"),
                   "groups/lab:/home/jovyan/work/groups/lab:ro is not a folder of ada's"),
    "missing-bind": (_drop_volume(f"{ROOT}/colab"),
                     f"Binds is missing {ROOT}/colab:/home/jovyan/work/colab:rw"),
    "shared-rw-for-a-student": (_volume(f"{ROOT}/shared", "/home/jovyan/work/shared", "rw"),
                                "/home/jovyan/work/shared must be ro for ada, not rw"),
    "propagation": (_volume(f"{ROOT}/colab", "/home/jovyan/work/colab", "rw,rshared"),
                    "colab must be rw for ada, not rw,rshared"),
    "pid-host": (_host(pid_mode="host"), "HostConfig.PidMode must be private, not 'host'"),
    "ipc-host": (_host(ipc_mode="host"), "HostConfig.IpcMode must be private, not 'host'"),
    "uts-host": (_host(uts_mode="host"), "HostConfig.UTSMode must be private"),
    "userns-host": (_host(userns_mode="host"), "HostConfig.UsernsMode must be private"),
    "cgroupns-host": (_host(cgroupns="host"), "HostConfig.CgroupnsMode must be private"),
    "network-host": (_host(network_mode="host"),
                     "NetworkMode must be hub-network, not 'host'"),
    "network-of-a-container": (_host(network_mode="container:hub.web.1"),
                               "NetworkMode must be hub-network"),
    "devices": (_host(devices=["/dev/sda:/dev/sda:rwm"]), "HostConfig.Devices is not allowed"),
    "device-requests": (_host(device_requests=[DeviceRequest(count=-1,
                                                             capabilities=[["gpu"]])]),
                        "HostConfig.DeviceRequests is not allowed"),
    "seccomp-unconfined": (_host(security_opt=["seccomp=unconfined"]),
                           "HostConfig.SecurityOpt is not allowed"),
    "sysctls": (_host(sysctls={"net.ipv4.ip_forward": "1"}), "HostConfig.Sysctls is not allowed"),
    "volumes-from": (_host(volumes_from=["hub.web.1"]), "HostConfig.VolumesFrom is not allowed"),
    "mounts": (_set(mounts=[{"source": "/", "target": "/host", "type": "bind"}]),
               "HostConfig.Mounts is not allowed"),
    "tmpfs-unknown-key": (_host(tmpfs={"/run": "size=1g"}),
                          "HostConfig.Tmpfs is not something the hub sends"),
    "port-bindings": (_set(use_internal_ip=False), "HostConfig.PortBindings is not allowed"),
    "restart-always": (_host(restart_policy={"Name": "always"}),
                       "HostConfig.RestartPolicy is not allowed"),
    "log-driver": (_host(log_config={"Type": "syslog", "Config": {}}),
                   "HostConfig.LogConfig is not allowed"),
    "docker-socket": (_volume(contract.DOCKER_SOCKET, contract.DOCKER_SOCKET, "rw"),
                      "the Docker socket may not be given to a notebook server"),
    "docker-socket-as-mount": (
        _set(mounts=[{"source": "/var/run/docker.sock", "target": "/run/docker.sock",
                      "type": "bind"}]),
        "the Docker socket may not be given"),
    "another-image": (_set(image=OTHER_IMAGE), f"image '{OTHER_IMAGE}' is not this hub's"),
    "user-root": (_create(user="0:0"), "User must be 1000:100, not '0:0'"),
    "user-missing": (_set(extra_create_kwargs={"labels": OWN}),
                     "User must be 1000:100, not None"),
    "wrong-prefix": (_set(object_name="other-jupyter-ada"),
                     "container name 'other-jupyter-ada' is not hub-jupyter-<user>"),
    "wrong-app-label": (_create(labels={**OWN, contract.LABEL_NOTEBOOK_APP: "other"}),
                        "label org.dokku-jupyterhub.app must be hub"),
    "no-user-label": (_create(labels={contract.LABEL_NOTEBOOK_APP: APP}),
                      "label org.dokku-jupyterhub.user (whose server it is) is missing"),
    "role-label": (_create(labels={**OWN, contract.LABEL_ROLE: "proxy"}),
                   "labels must be exactly"),
    "groups-label-without-claim": (_create(labels={**OWN, LABEL_NOTEBOOK_GROUPS: "lab"}),
                                   "is only honoured when the hub takes groups"),
    "more-memory": (_set(mem_limit=8 * 1024**3), "HostConfig.Memory must be 367001600 for ada"),
    "more-swap": (_host(memswap_limit=-1), "HostConfig.MemorySwap must be 367001600"),
    "no-memory": (_set(mem_limit=None), "HostConfig.Memory is missing: ada's limit is 350m"),
    "cpu-quota-off-policy": (_set(cpu_limit=4.0), "HostConfig.CpuPeriod must not be set for ada"),
    "auto-remove": (_host(auto_remove=True), "HostConfig.AutoRemove must not be set"),
    "another-port": (_set(port=22), "ExposedPorts may only be 8888/tcp"),
    "a-user-the-policy-refuses": (_create(labels={**OWN, contract.LABEL_NOTEBOOK_USER:
                                                  "mallory"}),
                                  "mallory is not allowed on this hub any more"),
    "an-unsafe-user-name": (_create(labels={**OWN, contract.LABEL_NOTEBOOK_USER: "../root"}),
                            "cannot be used for a notebook server"),
}


@pytest.mark.parametrize("name", sorted(FORGED))
def test_a_forged_create_is_refused_with_its_reason(name):
    tweak, reason = FORGED[name]
    verdict = judge(create_request(tweak=tweak))
    assert not verdict.allowed
    assert verdict.status == 403
    assert reason in verdict.reason
    assert TOKEN not in verdict.reason


BODY_EDITS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown-top-key": (lambda c: c.update(OnBuild=["RUN id"]), "OnBuild is not something"),
    "hostname": (lambda c: c.update(Hostname="hub.web"), "Hostname is not allowed"),
    "runtime": (lambda c: c.update(Runtime="runc-debug"), "Runtime is not allowed"),
    "aliases": (lambda c: c.update(NetworkingConfig={"EndpointsConfig": {
        "hub-network": {"Aliases": ["hub.web"]}}}), "NetworkingConfig endpoint settings"),
    "another-network": (lambda c: c.update(NetworkingConfig={"EndpointsConfig": {
        "bridge": {}}}), "NetworkingConfig may only name the network hub-network"),
    "anonymous-volume": (lambda c: c["Volumes"].update({"/var/lib/x": {}}),
                         "Volumes ['/var/lib/x'] are not mounts"),
    "socket-in-volumes": (lambda c: c["Volumes"].update({"/var/run/docker.sock": {}}),
                          "the Docker socket may not be given"),
    "bind-twice": (lambda c: c["HostConfig"]["Binds"].append(c["HostConfig"]["Binds"][0]),
                   "HostConfig.Binds has a bind twice"),
    "nano-cpus": (lambda c: c["HostConfig"].update(NanoCpus=4_000_000_000),
                  "HostConfig.NanoCpus is not allowed"),
    "memory-as-bool": (lambda c: c["HostConfig"].update(MemorySwap=True),
                       "HostConfig.MemorySwap must be"),
    "no-host-config": (lambda c: c.pop("HostConfig"), "the create body has no HostConfig"),
    "pid-host-raw": (lambda c: c["HostConfig"].update(PidMode="host"),
                     "HostConfig.PidMode must be private"),
}


@pytest.mark.parametrize("name", sorted(BODY_EDITS))
def test_a_body_edited_past_docker_py_is_refused(name):
    edit, reason = BODY_EDITS[name]
    verdict = judge(edited(create_request(), edit))
    assert not verdict.allowed
    assert reason in verdict.reason


def test_defaults_docker_py_or_the_docker_cli_send_are_tolerated():
    def defaults(c: dict[str, Any]) -> None:
        c.update(Hostname="", WorkingDir="", Entrypoint=None, StopSignal=None, Healthcheck=None)
        c["HostConfig"].update(Privileged=False, CapAdd=None, PidMode="", IpcMode="private",
                               RestartPolicy={"Name": "no", "MaximumRetryCount": 0},
                               LogConfig={"Type": "", "Config": {}}, AutoRemove=False)
        c["NetworkingConfig"] = {"EndpointsConfig": {"hub-network": {}}}
    assert judge(edited(create_request(), defaults)).allowed


def test_malformed_create_requests():
    method, path, query, body = create_request()
    assert "not JSON" in judge((method, path, query, b"{")).reason
    assert "not JSON" in judge((method, path, query, None)).reason
    assert "given 2 times" in judge((method, path, {"name": ["hub-jupyter-ada"] * 2},
                                     body)).reason
    assert "platform" in judge((method, path, {**query, "platform": ["linux/arm64"]},
                                body)).reason
    assert "not hub-jupyter-<user>" in judge((method, path, {}, body)).reason
    assert not judge(("PUT", path, query, body)).allowed


def test_group_folders_from_the_login_providers_claim():
    claimed = (GateContext(**{**vars(CTX), "groups_from_claim": True}))
    doc = policy.validate({**DOC, "groups": {"lab": {"members_mode": "ro", "members": []}}})

    def with_groups(groups: str) -> Callable[[DockerSpawner], None]:
        return _create(labels={**OWN, contract.LABEL_NOTEBOOK_USER: "zoe",
                               LABEL_NOTEBOOK_GROUPS: groups})

    # zoe is in no list: only her claimed group lets her in, with its folder
    request = create_request("zoe", doc, with_groups("lab"), extra_groups=("lab",))
    assert "HostConfig.Binds" not in judge(request, doc, claimed).reason
    assert judge(request, doc, claimed).allowed
    assert not judge(request, doc, CTX).allowed  # the hub does not use the claim
    # claiming a group is not having its folder without the label saying so
    no_label = create_request("zoe", doc, with_groups(""), extra_groups=("lab",))
    assert "not allowed on this hub any more" in judge(no_label, doc, claimed).reason


def test_a_policy_change_changes_what_is_allowed_without_touching_the_gate():
    as_student = create_request("ada")
    as_admin = create_request("ada", policy.validate({**DOC, "admins": ["teacher", "ada"]}))
    assert judge(as_student).allowed
    assert "is not a folder of ada's server" in judge(as_admin).reason
    promoted = policy.validate({**DOC, "admins": ["teacher", "ada"]})
    assert judge(as_admin, promoted).allowed
    assert "must be rw for ada, not ro" in judge(as_student, promoted).reason
    # a new memory limit too
    bigger = policy.validate({**DOC, "limits": {"users": {"ada": {"memory": "2G"}}}})
    assert "HostConfig.Memory must be 2147483648" in judge(as_student, bigger).reason
    # and a user the policy drops can no longer get a server at all
    dropped = policy.validate({**DOC, "users": []})
    assert "ada is not allowed on this hub any more" in judge(as_student, dropped).reason
    assert judge(as_student, dropped, GateContext(**{**vars(CTX), "allow_all": True})).allowed


# ---- everything else -----------------------------------------------------------------------


def req(method: str, path: str, **query: str) -> docker_rules.Verdict:
    return check(method, path, {k.replace("_", "-"): [v] for k, v in query.items()}, None,
                 CTX, DOC, labels_of, image_of)


@pytest.mark.parametrize("method,path", [
    ("GET", "/_ping"), ("HEAD", "/_ping"), ("GET", "/version"), ("GET", "/v1.41/version"),
    ("GET", "/v1.41/containers/hub-jupyter-ada/json"),
    ("POST", "/v1.41/containers/hub-jupyter-ada/start"),
    ("POST", "/v1.41/containers/c0ffee/stop"),
    ("POST", "/v1.41/containers/hub-jupyter-ada/wait"),
    ("DELETE", "/v1.41/containers/hub-jupyter-ada"),
    ("GET", "/v1.41/containers/hub-jupyter-ada/logs"),
    ("GET", "/v1.41/containers/hub-jupyter-ada/stats"),
    ("GET", f"/v1.41/images/{IMAGE}/json"),
    ("GET", f"/v1.41/images/{IMAGE_ID}/json"),
    ("GET", "/v1.41/images/dokku/hub-notebook/json"),
    ("GET", "/v1.41/networks/hub-network"),
])
def test_what_dockerspawner_needs_is_allowed(method, path):
    verdict = req(method, path)
    assert verdict.allowed, verdict.reason
    if "/containers/" in path:
        assert verdict.container == path.split("/")[3]


def test_operations_keep_the_parameters_docker_py_sends():
    ada = "/v1.41/containers/hub-jupyter-ada"
    assert req("DELETE", ada, v="True", link="False", force="False").allowed
    assert req("POST", f"{ada}/stop", t="10").allowed
    assert req("GET", f"{ada}/logs", stderr="1", stdout="1", timestamps="0", follow="0",
               tail="5").allowed
    assert req("GET", f"{ada}/stats", stream="False", one_shot="True").allowed
    assert req("POST", f"{ada}/wait", condition="not-running").allowed
    assert "'link'" not in req("DELETE", ada, link="1").reason
    assert "removing a link" in req("DELETE", ada, link="1").reason
    assert "query parameter 'ps-args'" in req("GET", f"{ada}/logs", ps_args="aux").reason


@pytest.mark.parametrize("method,path,reason", [
    ("POST", "/v1.41/containers/hub-jupyter-ada/exec", "POST exec is not an operation"),
    ("POST", "/v1.41/containers/hub-jupyter-ada/attach", "POST attach is not"),
    ("GET", "/v1.41/containers/hub-jupyter-ada/archive", "GET archive is not"),
    ("PUT", "/v1.41/containers/hub-jupyter-ada/archive", "PUT archive is not"),
    ("POST", "/v1.41/containers/hub-jupyter-ada/update", "POST update is not"),
    ("POST", "/v1.41/containers/hub-jupyter-ada/rename", "POST rename is not"),
    ("POST", "/v1.41/containers/hub-jupyter-ada/kill", "POST kill is not"),
    ("GET", "/v1.41/containers/hub-jupyter-ada/top", "GET top is not"),
    ("GET", "/v1.41/containers/hub-jupyter-ada/export", "GET export is not"),
    ("POST", "/v1.41/commit", "POST /commit is not an operation the hub needs"),
    ("POST", "/v1.41/containers/prune", "POST the container is not"),
    ("POST", "/v1.41/build", "POST /build is not an operation the hub needs"),
    ("POST", "/v1.41/networks/create", "POST /networks/create is not"),
    ("POST", "/v1.41/networks/hub-network/connect", "POST /networks/hub-network/connect"),
    ("GET", "/v1.41/networks/bridge", "network bridge is not this hub's network"),
    ("POST", "/v1.41/volumes/create", "POST /volumes/create is not"),
    ("POST", "/v1.41/exec/abc/start", "POST /exec/abc/start is not"),
    ("POST", "/v1.41/swarm/init", "is not an operation"),
    ("GET", "/v1.41/plugins", "is not an operation"),
    ("GET", "/v1.41/secrets", "is not an operation"),
    ("POST", "/v1.41/system/prune", "is not an operation"),
    ("GET", "/v1.41/info", "is not an operation"),
    ("GET", "/v1.41/images/json", "is not an operation"),
    ("DELETE", f"/v1.41/images/{IMAGE}", "is not an operation"),
    ("POST", f"/v1.41/images/{IMAGE}/tag", "is not an operation"),
    ("GET", f"/v1.41/images/{OTHER_IMAGE}/json", f"image {OTHER_IMAGE} is not"),
    ("GET", "/v1.41/containers/../build", "malformed path"),
    ("GET", "/v1.41/containers/hub-jupyter-ada/../../info", "malformed path"),
    ("GET", "/v1.41//info", "malformed path"),
    ("GET", "/v1.41/containers/other-jupyter-ada/json", "not a notebook server of hub"),
    ("POST", "/v1.41/containers/other-jupyter-ada/stop", "not a notebook server of hub"),
    ("DELETE", "/v1.41/containers/other-jupyter-ada", "not a notebook server of hub"),
    ("POST", "/v1.41/containers/dokku.jupyterhub.hub.proxy/stop", "not a notebook server"),
    ("POST", "/v1.41/containers/hub.web.1/stop", "not a notebook server of hub"),
])
def test_everything_else_is_refused(method, path, reason):
    verdict = req(method, path)
    assert not verdict.allowed
    assert verdict.status == 403
    assert reason in verdict.reason


def test_a_missing_container_is_not_found_as_the_engine_says_it():
    verdict = req("GET", "/v1.41/containers/hub-jupyter-nobody/json")
    assert (verdict.allowed, verdict.status) == (False, 404)
    assert verdict.reason == "No such container: hub-jupyter-nobody"


def test_pulls_only_of_a_pinned_image():
    pinned = GateContext(**{**vars(CTX), "images": ("quay.io/jupyter/scipy-notebook:2024-05-01",
                                                    IMAGE)})

    def pull(ctx: GateContext, **query: str) -> docker_rules.Verdict:
        return check("POST", "/v1.41/images/create", {k: [v] for k, v in query.items()}, None,
                     ctx, DOC, labels_of, image_of)

    assert pull(pinned, fromImage="quay.io/jupyter/scipy-notebook", tag="2024-05-01").allowed
    assert "not this hub's notebook image" in pull(pinned, fromImage="alpine",
                                                   tag="latest").reason
    assert "the plugin builds it" in pull(pinned, fromImage="dokku/hub-notebook",
                                          tag="latest").reason
    assert "'fromSrc'" in pull(pinned, fromSrc="http://x/rootfs.tar").reason


def test_events_and_lists_are_narrowed_to_the_apps_notebook_servers():
    # the app's label and a user's: the proxy and the gate carry the app's label only
    own = [f"{contract.LABEL_NOTEBOOK_APP}={APP}", contract.LABEL_NOTEBOOK_USER]
    verdict = check("GET", "/v1.41/events",
                    {"filters": [json.dumps({"type": ["container"], "event": ["die"]})]},
                    None, CTX, DOC, labels_of, image_of)
    assert verdict.allowed
    assert json.loads(verdict.query["filters"][0]) == {
        "type": ["container"], "event": ["die"], "label": own}
    # no filters at all: only the app's
    verdict = check("GET", "/events", {"since": ["1"]}, None, CTX, DOC, labels_of, image_of)
    assert verdict.query == {"since": ["1"], "filters": [json.dumps({"label": own})
                                                        .replace(" ", "")]}
    # the caller's labels are kept (all label filters must match), the older form too
    verdict = check("GET", "/v1.41/containers/json",
                    {"all": ["1"], "filters": [json.dumps({"label": {"a=b": True}})]},
                    None, CTX, DOC, labels_of, image_of)
    assert json.loads(verdict.query["filters"][0]) == {"label": ["a=b", *own]}
    assert verdict.query["all"] == ["1"]
    refused = check("GET", "/events", {"filters": ["[1]"]}, None, CTX, DOC, labels_of,
                    image_of)
    assert "filters must be a JSON object" in refused.reason


def test_what_the_gate_expects_follows_what_the_hub_applies(monkeypatch):
    """A new host config key in spawn.docker_host_config is either rendered or refused by
    name, never ignored."""
    decision = decide(DOC, "ada", ROOT, IMAGE)
    monkeypatch.setattr(spawn, "docker_host_config",
                        lambda d: {"memswap_limit": d.mem_bytes, "auto_remove": False,
                                   "shm_size": "1g"})
    assert "ShmSize is not something the hub sends" in judge(create_request()).reason
    with pytest.raises(Exception, match="does not know how DockerSpawner sends host config "
                                        "'shm_size'"):
        docker_rules.expected_for(decision, CTX)
    monkeypatch.setattr(spawn, "docker_host_config",
                        lambda d: {"memswap_limit": 2 * d.mem_bytes, "auto_remove": False})
    assert docker_rules.expected_for(decision, CTX).host["MemorySwap"] == 2 * decision.mem_bytes
    assert judge(create_request()).allowed


def test_a_start_cannot_carry_a_host_config():
    """API versions before 1.24 take a HostConfig in a start's body: neither is accepted."""
    forged = json.dumps({"Privileged": True, "Binds": ["/:/host:rw"]}).encode()
    start = "/containers/hub-jupyter-ada/start"
    for path in (f"/v1.41{start}", f"/v1.23{start}", start):
        verdict = check("POST", path, {}, forged, CTX, DOC, labels_of, image_of)
        assert not verdict.allowed
    assert "only a create has a request body" in check(
        "POST", f"/v1.41{start}", {}, forged, CTX, DOC, labels_of, image_of).reason
    assert "API version v1.23 is older" in req("POST", f"/v1.23{start}").reason
    assert req("POST", f"/v1.24{start}").allowed
    method, _, query, body = create_request()
    assert "older" in judge((method, "/v1.19/containers/create", query, body)).reason


def test_the_engine_reads_the_body_that_was_checked():
    """Go's decoder takes the last of two equal keys and matches keys case-insensitively."""
    method, path, query, body = create_request()
    text = body.decode()
    twice = text.replace('"HostConfig": {', '"HostConfig": {"Privileged": false, '
                         '"Privileged": true, ', 1)
    assert "gives Privileged twice" in judge((method, path, query, twice.encode())).reason
    cased = text.replace('"HostConfig": {', '"HostConfig": {"privileged": true, ', 1)
    assert "HostConfig.privileged is not something the hub sends" in judge(
        (method, path, query, cased.encode())).reason
    # host config keys at the top level (older clients' form) are not accepted either
    top = text.replace("{", '{"Memory": 0, "Binds": ["/:/host"], ', 1)
    assert "Memory is not something the hub sends" in judge(
        (method, path, query, top.encode())).reason


# ---- the gate's configuration ----------------------------------------------------------------


def test_the_gate_is_configured_by_the_hubs_environment():
    from dokku_jupyterhub.hub_runtime import docker_gate

    env = {
        contract.Env.APP: "hub",
        contract.Env.NETWORK: "hub-network",
        contract.Env.NOTEBOOK_IMAGE: "quay.io/jupyter/scipy-notebook:2024-05-01, extra/img",
        contract.Env.HOST_DATA_DIR: "/var/lib/dokku/data/storage/hub/",
        contract.Env.ALLOW_ALL: "true",
        contract.Env.GROUPS_CLAIM: "groups",
    }
    settings = docker_gate.from_env(env)
    assert settings.ctx == GateContext(
        app="hub", network="hub-network",
        images=("quay.io/jupyter/scipy-notebook:2024-05-01", "extra/img", IMAGE),
        host_root="/var/lib/dokku/data/storage/hub", prefix="hub-jupyter",
        allow_all=True, groups_from_claim=True)
    assert (settings.listen, settings.upstream, settings.policy_path) == (
        docker_gate.DEFAULT_SOCKET, contract.DOCKER_SOCKET, "/data/policy.json")
    minimal = docker_gate.from_env({contract.Env.APP: "hub", contract.Env.HOST_DATA_DIR: ROOT,
                                    docker_gate.ENV_SOCKET: "/run/gate/d.sock"})
    assert (minimal.ctx.images, minimal.ctx.network, minimal.listen) == (
        (IMAGE,), "hub-network", "/run/gate/d.sock")
    assert not (minimal.ctx.allow_all or minimal.ctx.groups_from_claim)
    for bad, message in [({}, "HUB_APP_NAME"), ({contract.Env.APP: "hub"}, "HUB_HOST_DATA_DIR"),
                         ({contract.Env.APP: "hub", contract.Env.HOST_DATA_DIR: "data"},
                          "absolute"),
                         ({contract.Env.APP: "hub", contract.Env.HOST_DATA_DIR: ROOT,
                           contract.Env.ALLOW_ALL: "yes"}, "true or false")]:
        with pytest.raises(docker_gate.GateError, match=message):
            docker_gate.from_env(bad)
