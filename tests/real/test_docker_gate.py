"""The docker gate against the real engine: the real DockerSpawner (configured as
jupyterhub_config.py configures it, the spawn decision applied as the hub applies it) runs a
user's server through the gate with docker-py, and what a hub taken over would ask instead
is refused with 403 and leaves the host as it was.

The gate runs as it runs beside the hub: `python -m dokku_jupyterhub.hub_runtime.docker_gate`
configured by its environment, on a socket of its own, the engine's socket upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import json
import os
import queue
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
from dockerspawner import DockerSpawner
from jupyterhub.objects import Hub
from support.hub_user import HubUser

from dokku_jupyterhub.hub_runtime import contract, policy, spawn
from dokku_jupyterhub.hub_runtime.docker_gate import ENV_SOCKET, ENV_UPSTREAM
from dokku_jupyterhub.hub_runtime.spawn_decision import SpawnDecision, decide

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-gate-9d2c-never-logged"
# Exits at once on `docker stop` (SIGTERM), says something for `logs` first.
SERVER_CMD = ["sh", "-c", "trap 'exit 0' TERM; echo hello-gate; while :; do sleep 1; done"]
GATE_PREFIX = "dokku-jupyterhub docker gate: "


@dataclass
class Bed:
    app: str
    other_app: str
    root: str  # the data tree: HUB_HOST_DATA_DIR and HUB_DATA_DIR (the engine is local)
    image: str
    network: str
    gate_socket: str
    gate_log: Path
    engine: docker.APIClient
    other_id: str = ""  # a running server of another app, started on the engine directly

    @property
    def prefix(self) -> str:
        return contract.container_prefix(self.app)

    def client(self, timeout: int | None = 30) -> docker.APIClient:
        """docker-py as the hub has it: DOCKER_HOST is the gate."""
        return docker.APIClient(base_url=f"unix://{self.gate_socket}", version="auto",
                                timeout=timeout)

    def policy(self) -> dict[str, Any]:
        return policy.loads(Path(self.root, contract.POLICY_FILE).read_text())

    def write_policy(self, doc: dict[str, Any]) -> None:
        path = Path(self.root, contract.POLICY_FILE)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(policy.dumps(doc))
        os.replace(tmp, path)  # a new inode, as policy_store writes it

    def decision(self, user: str) -> SpawnDecision:
        decision = decide(self.policy(), user, self.root, self.image)
        spawn.prepare_host(decision, self.root, self.root)
        return decision

    def spawner(self, user: str, decision: SpawnDecision,
                tweak: Callable[[DockerSpawner], None] | None = None) -> DockerSpawner:
        """The hub's DockerSpawner for `user`, its client the gate."""
        cls = type("GateSpawner", (DockerSpawner,), {"_client": self.client()})
        spawner = cls(
            user=HubUser(user), hub=Hub(), api_token=TOKEN,
            image=self.image, pull_policy="never", network_name=self.network,
            use_internal_ip=True, remove=True, prefix=self.prefix,
            name_template="{prefix}-{username}", cmd=SERVER_CMD,
            notebook_dir="/home/jovyan/work", format_volume_name=spawn.literal_volume_name,
        )
        spawn.apply_to_dockerspawner(spawner, decision, self.app)
        if tweak:
            tweak(spawner)
        return spawner

    def log(self) -> str:
        return self.gate_log.read_text(errors="replace")


def _remove_app_containers(api: docker.APIClient, *apps: str) -> None:
    for app in apps:
        label = f"{contract.LABEL_NOTEBOOK_APP}={app}"
        for c in api.containers(all=True, filters={"label": label}):
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_container(c["Id"], force=True, v=True)


def _wait_for_socket(path: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gate exited ({proc.returncode}): {log.read_text()}")
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)
    raise RuntimeError(f"the gate did not listen on {path}: {log.read_text()}")


@pytest.fixture(scope="module")
def bed(engine, bookworm_image, tmp_path_factory) -> Iterator[Bed]:
    api: docker.APIClient = engine.api
    tag = uuid.uuid4().hex[:8]
    app, other = f"djhgate-{tag}", f"djhgateo-{tag}"
    tmp = tmp_path_factory.mktemp("gate")
    root = str(tmp / "data")
    os.makedirs(root)
    image = contract.notebook_image(app)
    network = contract.network_name(app)
    made: list[Callable[[], None]] = []
    proc: subprocess.Popen[bytes] | None = None
    log_file = None
    try:
        # A notebook image of the app's own (its id differs from the bookworm image's, the
        # "another image" below), built offline from the local base image.
        engine.images.build(fileobj=io.BytesIO(
            f"FROM {bookworm_image}\nLABEL {contract.LABEL_NOTEBOOK_APP}={app}\n".encode()),
            tag=image, network_mode="none", rm=True)
        made.append(lambda: engine.images.remove(image, force=True))
        api.create_network(network, driver="bridge")
        made.append(lambda: api.remove_network(network))
        made.append(lambda: _remove_app_containers(api, app, other))
        spawn.ensure_data_tree(root)
        doc = policy.validate({"version": 1, "admins": ["teacher"],
                               "users": ["ada", "eve", "mallet"],
                               "limits": {"default": {"memory": "350m"}}})
        Path(root, contract.POLICY_FILE).write_text(policy.dumps(doc))
        sock = str(tmp / "gate" / "docker.sock")
        log = tmp / "gate.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            ENV_SOCKET: sock,
            ENV_UPSTREAM: contract.DOCKER_SOCKET,
            contract.Env.APP: app,
            contract.Env.NETWORK: network,
            contract.Env.NOTEBOOK_IMAGE: image,
            contract.Env.HOST_DATA_DIR: root,
            contract.Env.DATA_DIR: root,
            contract.Env.ALLOW_ALL: "false",
        }
        log_file = open(log, "wb")  # noqa: SIM115 - the gate's stderr for the whole module
        proc = subprocess.Popen([sys.executable, "-m", "dokku_jupyterhub.hub_runtime.docker_gate"],
                                cwd=ROOT, env=env, stdout=log_file, stderr=log_file)
        _wait_for_socket(sock, proc, log)
        b = Bed(app=app, other_app=other, root=root, image=image, network=network,
                gate_socket=sock, gate_log=log, engine=api)
        # another app's running notebook server, on the engine directly
        other_c = api.create_container(
            bookworm_image, SERVER_CMD, name=f"{contract.container_prefix(other)}-x",
            labels={contract.LABEL_NOTEBOOK_APP: other, contract.LABEL_NOTEBOOK_USER: "x"},
            host_config=api.create_host_config(network_mode="none"))
        api.start(other_c["Id"])
        b.other_id = other_c["Id"]
        yield b
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log_file is not None:
            log_file.close()
        for undo in reversed(made):
            with contextlib.suppress(docker.errors.APIError):
                undo()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def student(bed) -> Iterator[str]:
    """eve's running server, started by DockerSpawner through the gate (removed after)."""
    spawner = bed.spawner("eve", bed.decision("eve"))
    asyncio.run(spawner.start())
    try:
        yield spawner.container_id
    finally:
        asyncio.run(spawner.stop())


# ---- what the hub needs ------------------------------------------------------------------


def test_the_gate_listens_on_its_own_socket_and_answers_version_and_ping(bed):
    assert stat.S_IMODE(os.stat(bed.gate_socket).st_mode) == 0o660
    client = bed.client()
    assert client.version()["ApiVersion"] == bed.engine.version()["ApiVersion"]
    assert client.ping() is True
    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.connect(bed.gate_socket)
    conn.request("HEAD", "/_ping")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Api-Version")
    conn.close()


def test_dockerspawner_runs_a_server_through_the_gate(bed):
    client = bed.client()
    decision = bed.decision("ada")
    spawner = bed.spawner("ada", decision)
    # The hub's death watch: one live event stream of the deaths of containers.
    events = bed.client(timeout=None).events(
        decode=True, filters={"type": "container", "event": "die"})
    seen: queue.Queue[dict[str, Any]] = queue.Queue()
    threading.Thread(target=lambda: [seen.put(e) for e in events], daemon=True).start()
    throwaway = ""
    try:
        # pull policy (image inspect), "is it there?" (404 by name), create, start, address
        ip, port = asyncio.run(spawner.start())
        cid = spawner.container_id
        assert port == 8888 and ip
        info = client.inspect_container(spawner.container_name)
        assert info["Id"] == cid and info["State"]["Running"]
        host = info["HostConfig"]
        assert set(host["Binds"]) == {f"{m.host}:{m.container}:{m.mode}" for m in decision.mounts}
        assert (host["Memory"], host["MemorySwap"]) == (decision.mem_bytes, decision.mem_bytes)
        assert (host["Privileged"], host["NetworkMode"], info["Config"]["User"]) == (
            False, bed.network, "1000:100")
        assert info["Config"]["Labels"][contract.LABEL_NOTEBOOK_USER] == "ada"
        assert ip == info["NetworkSettings"]["Networks"][bed.network]["IPAddress"]

        deadline = time.monotonic() + 15
        while b"hello-gate" not in client.logs(cid, tail=5) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert b"hello-gate" in client.logs(cid, tail=5)
        follow = bed.client(timeout=None).logs(cid, stream=True, follow=True)
        assert b"hello-gate" in next(iter(follow))
        follow.close()
        stats = client.stats(cid, stream=False)
        assert stats["id"] == cid and "memory_stats" in stats

        # the list is the app's only: the other app's server is not in it
        listed = {c["Id"] for c in client.containers(all=True)}
        assert cid in listed
        assert bed.other_id not in listed
        assert bed.other_id in {c["Id"] for c in bed.engine.containers(all=True)}
        for c in client.containers(all=True):
            assert c["Labels"][contract.LABEL_NOTEBOOK_APP] == bed.app

        # `wait` blocks through the gate until the server stops
        waited: dict[str, Any] = {}
        waiter = threading.Thread(
            target=lambda: waited.update(bed.client(timeout=None).wait(cid)), daemon=True)
        waiter.start()
        time.sleep(1)
        assert waiter.is_alive()

        # another app's server dies first: its death does not come through the gate
        throwaway = bed.engine.create_container(
            bed.image, SERVER_CMD, name=f"{contract.container_prefix(bed.other_app)}-y",
            labels={contract.LABEL_NOTEBOOK_APP: bed.other_app,
                    contract.LABEL_NOTEBOOK_USER: "y"},
            host_config=bed.engine.create_host_config(network_mode="none"))["Id"]
        bed.engine.start(throwaway)
        bed.engine.stop(throwaway, timeout=5)

        asyncio.run(spawner.stop())  # stop, then remove (c.DockerSpawner.remove)
        waiter.join(20)
        assert waited == {"Error": None, "StatusCode": 0}
        died = seen.get(timeout=20)
        assert died["id"] == cid
        assert died["Actor"]["Attributes"][contract.LABEL_NOTEBOOK_APP] == bed.app
        time.sleep(0.5)
        while not seen.empty():
            assert seen.get()["Actor"]["Attributes"][contract.LABEL_NOTEBOOK_APP] == bed.app
        with pytest.raises(docker.errors.NotFound):
            bed.engine.inspect_container(cid)
        # and asking for it now is the engine's 404, as DockerSpawner expects
        with pytest.raises(docker.errors.NotFound):
            client.inspect_container(spawner.container_name)
    finally:
        events.close()
        if throwaway:
            bed.engine.remove_container(throwaway, force=True)
        for c in bed.engine.containers(all=True, filters={"name": f"{bed.prefix}-ada"}):
            bed.engine.remove_container(c["Id"], force=True)


# ---- what a hub taken over would ask -----------------------------------------------------


def _state(bed: Bed, student: str) -> dict[str, Any]:
    """What the refused calls must not change: the two apps' containers, their networks,
    the app's images."""
    apps = (bed.app, bed.other_app)
    containers = sorted(
        (c["Id"], c["State"], c["Status"].split(" ")[0])
        for c in bed.engine.containers(all=True)
        if c["Labels"].get(contract.LABEL_NOTEBOOK_APP) in apps
    )
    return {
        "containers": containers,
        "other": bed.engine.inspect_container(bed.other_id)["State"]["StartedAt"],
        "execs": bed.engine.inspect_container(student)["ExecIDs"],
        "networks": sorted(n["Name"] for n in bed.engine.networks()
                           if n["Name"].startswith(apps)),
        "images": sorted(t for i in bed.engine.images() for t in i.get("RepoTags") or []
                         if bed.app in t),
    }


Tweak = Callable[[DockerSpawner], None]


def _forged_create(make: Callable[[Bed], Tweak]) -> Callable[[Bed, str], None]:
    """mallet's create, as the hub's DockerSpawner would send it after `make(bed)`."""
    def call(bed: Bed, student: str) -> None:
        asyncio.run(bed.spawner("mallet", bed.decision("mallet"), make(bed)).create_object())
    return call


def _volume(host: str, bind: str, mode: str) -> Callable[[Bed], Tweak]:
    def make(bed: Bed) -> Tweak:
        def tweak(spawner: DockerSpawner) -> None:
            spawner.volumes = {**spawner.volumes,
                               host.format(root=bed.root): {"bind": bind, "mode": mode}}
        return tweak
    return make


def _host(**kwargs: Any) -> Callable[[Bed], Tweak]:
    def tweak(spawner: DockerSpawner) -> None:
        spawner.extra_host_config = {**spawner.extra_host_config, **kwargs}
    return lambda bed: tweak


def _another_image(bed: Bed) -> Tweak:
    def tweak(spawner: DockerSpawner) -> None:
        spawner.image = "djh-test/bookworm:minbase"
    return tweak


def _exec(bed: Bed, student: str) -> None:
    bed.client().exec_create(student, ["id"])


def _stop_other_app(bed: Bed, student: str) -> None:
    bed.client().stop(bed.other_id, timeout=1)


def _start_with_a_host_config(bed: Bed, student: str) -> None:
    """What API versions before 1.24 accept: a HostConfig in the body of a start."""
    client = bed.client()
    response = client._post_json(f"{client.base_url}/v1.23/containers/{student}/start",
                                 data={"Privileged": True, "Binds": ["/:/host:rw"]})
    client._raise_for_status(response)


def _build(bed: Bed, student: str) -> None:
    list(bed.client().build(fileobj=io.BytesIO(b"FROM djh-test/bookworm:minbase\n"),
                            tag=f"{contract.notebook_repository(bed.app)}:forged"))


def _network(bed: Bed, student: str) -> None:
    bed.client().create_network(f"{bed.app}-forged")


FORGED: dict[str, tuple[Callable[[Bed, str], None], str]] = {
    "privileged": (_forged_create(_host(privileged=True)), "HostConfig.Privileged is not"),
    "bind-of-root": (_forged_create(_volume("/", "/host", "rw")), "/:/host:rw is not a folder"),
    "another-users-folder-rw": (
        _forged_create(_volume("{root}/users/ada", "/home/jovyan/work/ada", "rw")),
        "/users/ada:/home/jovyan/work/ada:rw is not a folder of mallet's server"),
    "pid-host": (_forged_create(_host(pid_mode="host")), "PidMode must be private"),
    "another-image": (_forged_create(_another_image), "is not this hub's notebook image"),
    "exec-into-a-students-server": (_exec, "POST exec is not an operation"),
    "stop-another-apps-server": (_stop_other_app, "is not a notebook server of"),
    "start-with-a-host-config": (_start_with_a_host_config, "API version v1.23 is older"),
    "build": (_build, "POST /build is not an operation the hub needs"),
    "network-create": (_network, "POST /networks/create is not an operation"),
}


@pytest.mark.parametrize("name", list(FORGED))
def test_a_forged_call_is_refused_and_changes_nothing(bed, student, name):
    call, reason = FORGED[name]
    before = _state(bed, student)
    with pytest.raises(docker.errors.APIError) as caught:
        call(bed, student)
    assert caught.value.status_code == 403
    assert caught.value.explanation.startswith(GATE_PREFIX)
    assert reason in caught.value.explanation
    assert _state(bed, student) == before
    assert not bed.engine.containers(all=True, filters={"name": f"{bed.prefix}-mallet"})
    assert "[docker-gate] refused " in bed.log()


def test_a_policy_change_is_read_at_the_next_create(bed):
    doc = bed.policy()
    decision = bed.decision("ada")
    try:
        bed.write_policy({**doc, "users": ["eve", "mallet"]})
        with pytest.raises(docker.errors.APIError) as caught:
            asyncio.run(bed.spawner("ada", decision).create_object())
        assert caught.value.status_code == 403
        assert "ada is not allowed on this hub any more" in caught.value.explanation
    finally:
        bed.write_policy(doc)
    assert not bed.engine.containers(all=True, filters={"name": f"{bed.prefix}-ada"})


def test_the_gate_logs_refusals_and_no_secret(bed, student):
    for name in ("privileged", "build"):
        with pytest.raises(docker.errors.APIError):
            FORGED[name][0](bed, student)
    log = bed.log()
    assert "[docker-gate] refused POST /v1.41/containers/create: HostConfig.Privileged" in log
    assert "[docker-gate] refused POST /v1.41/build: POST /build is not" in log
    assert TOKEN not in log
    assert json.dumps(TOKEN)[1:-1] not in log
