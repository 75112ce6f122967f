"""Dokku's docker-local scheduler for the test bed: the deploy hook of the Dokku stand-in.

The stand-in (tests/standin) records what `dokku` commands set up and, on every deploy, runs
`$STANDIN_DEPLOY_HOOK APP SOURCE_DIR` (SOURCE_DIR empty for restarts). `install_hook()` makes
that executable; it runs `deploy()` here, which does what Dokku 0.38 does with a Dockerfile
app (dokku/dokku plugins/builder-dockerfile, scheduler-docker-local, network, checks):

1. prune the app's unused images (every image labelled `com.dokku.app-name=<app>` that no
   container uses, as Dokku does before each build), then build SOURCE_DIR into
   `dokku/<app>:latest` (labels `com.dokku.app-name`, `com.dokku.image-stage=release`),
   offline (`network_mode="none"`: no registry here);
2. `docker container create` from the recorded state: `--env` for every merged config key,
   `DYNO=web.1`, `PORT=<container port of the first port mapping>`, `-v` per storage mount
   (the Docker socket too), deploy-phase docker-options, `--init`,
   `--restart=on-failure:10`, `--log-opt=max-size=10m`, the com.dokku labels,
   `--name=<app>.web.1.upcoming-<random>`, the `initial-network` (else Docker's default);
3. connect the first `attach-post-create` network with aliases `<app>.web` and
   `<hostname>.<app>.web` (the hostname is the short container id), then start;
4. checks: app.json `healthchecks.web` (startup/readiness: HTTP path on the container's
   address), else the uptime wait (`checks` property `default-wait`, 10 s); none at all when
   `checks:disable` covers `web`, and then the old container is stopped (restart policy
   dropped first) BEFORE the new one is created (bin/scheduler-deploy-process: "Zero
   downtime is disabled, stopping currently running containers");
5. record CONTAINER/IP/PORT.web.1 in DOKKU_ROOT/<app> (nginx follows IP.web.1, or the
   network property `static-web-listener` when set: see `ProxyStandin`), rename the
   previous `<app>.web.1` to `<app>.web.1.<epoch>` and the new container to `<app>.web.1`
   (core-post-deploy);
6. `plugn trigger post-deploy APP "" "" latest`: a failure fails the deploy and leaves the
   old container running beside the new one;
7. the old container gets SIGTERM at once, and after `wait-to-retire` (checks property,
   60 s) its restart policy is dropped and it is stopped (30 s timeout), in the background.

dokku-postgres links (`--link dokku.postgres.<svc>:<alias>` in docker-options) point at the
bed's PostgreSQL cluster instead of a service container: `DJH_TEST_POSTGRES` (JSON with
`host`, `port`, `socket_dir`, `bindir`) says where it runs, and the service's role and
database are made there from the DATABASE_URL-style DSN, as `postgres:create` would.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shlex
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker
import docker.errors

HERE = Path(__file__).resolve().parent
# The stand-in's state.py: installed in its root (as the hook runs, as the dokku user, from a
# copy there) or in this checkout (as the tests import this module).
for _where in (Path(os.environ.get("STANDIN_ROOT", "/nonexistent")) / "usr/lib/standin",
               HERE.parent / "standin", HERE):
    if (_where / "state.py").is_file():
        # Appended: `standin` must stay the package tests/standin, not its standin.py.
        sys.path.append(str(_where))
        break
sys.path.insert(0, str(HERE))

import postgres as pg_support  # noqa: E402  (this folder's postgres.py)
import state as st  # noqa: E402

DEFAULT_CHECKS_WAIT = 10
DEFAULT_WAIT_TO_RETIRE = 60
STOP_TIMEOUT = 30


def say(msg: str) -> None:
    print(f"-----> {msg}", flush=True)


def verbose(msg: str) -> None:
    print(f"       {msg}", flush=True)


class DeployError(Exception):
    pass


# --- what Dokku has recorded -----------------------------------------------------------


def merged_config(app: str, root: Path) -> dict[str, str]:
    return {**st.read_env("--global", root), **st.read_env(app, root)}


def prop(plugin: str, app: str, key: str, root: Path) -> str | None:
    """An app property, falling back to the global one, as Dokku's computed values do."""
    value = st.prop_get(plugin, app, key, root)
    return value if value not in (None, "") else st.prop_get(plugin, "--global", key, root)


def checks_disabled_for(app: str, proc: str, root: Path) -> bool:
    """plugins/checks/functions is_app_proctype_checks_disabled."""
    listed = (st.prop_get("checks", app, "disabled", root) or "").split(",")
    return "_all_" in listed or proc in listed


def web_port(app: str, root: Path) -> str:
    """The container port of the first non-udp port mapping (Dokku's `PORT`)."""
    for mapping in st.ports(app, root):
        scheme, _, container = mapping.split(":")
        if scheme != "udp":
            return container
    return "5000"


@dataclass
class CreateArgs:
    """`docker container create` flags, as docker-py keywords."""

    env: dict[str, str] = field(default_factory=dict)
    binds: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    extra_hosts: dict[str, str] = field(default_factory=dict)
    mem_limit: str | None = None
    nano_cpus: int | None = None
    links: list[tuple[str, str]] = field(default_factory=list)


def parse_docker_options(lines: list[str], args: CreateArgs) -> None:
    """Deploy-phase docker-options. Only what this plugin's world sets is understood; anything
    else fails loudly rather than being silently dropped."""
    for line in lines:
        words = shlex.split(line)
        i = 0
        while i < len(words):
            word = words[i]
            name, eq, value = word.partition("=")
            if not eq and i + 1 < len(words) and name in _VALUE_OPTIONS:
                value = words[i + 1]
                i += 1
            i += 1
            if name == "--link":
                target, _, alias = value.partition(":")
                args.links.append((target, alias or target))
            elif name in ("-v", "--volume"):
                args.binds.append(value)
            elif name in ("-e", "--env"):
                key, _, val = value.partition("=")
                args.env[key] = val
            elif name in ("-l", "--label"):
                key, _, val = value.partition("=")
                args.labels[key] = val
            elif name in ("-m", "--memory"):
                args.mem_limit = value
            elif name == "--cpus":
                args.nano_cpus = int(float(value) * 1e9)
            elif name == "--add-host":
                host, _, ip = value.partition(":")
                args.extra_hosts[host] = ip
            else:
                raise DeployError(f"docker-options {word!r}: not understood by the test bed")


_VALUE_OPTIONS = {"--link", "-v", "--volume", "-e", "--env", "-l", "--label", "-m", "--memory",
                  "--cpus", "--add-host"}


def create_args(app: str, root: Path) -> CreateArgs:
    args = CreateArgs()
    args.env.update(merged_config(app, root))
    args.env["DYNO"] = "web.1"
    args.env["PORT"] = web_port(app, root)
    args.binds.extend(st.mounts(app, root))
    parse_docker_options(st.docker_options(app, "deploy", root), args)
    args.labels.update({
        "com.dokku.app-name": app,
        "com.dokku.process-type": "web",
        "com.dokku.dyno": "web.1",
        "com.dokku.container-type": "deploy",
    })
    return args


# --- services behind dokku-postgres links ------------------------------------------------


def postgres_link_hosts(app: str, args: CreateArgs, root: Path) -> None:
    """Resolve `--link dokku.postgres.<svc>:<alias>` to the bed's cluster and make sure the
    service's role and database exist there (what `postgres:create` did for real)."""
    for target, alias in args.links:
        if not target.startswith("dokku.postgres."):
            raise DeployError(f"--link {target}: no such container in the test bed")
        service = target.removeprefix("dokku.postgres.")
        where = os.environ.get("DJH_TEST_POSTGRES")
        if not where:
            raise DeployError(f"{app} links postgres service {service} but the bed runs no "
                              "PostgreSQL (DJH_TEST_POSTGRES unset)")
        pg = json.loads(where)
        password = (st.lib_root(root) / "services/postgres" / service / "PASSWORD").read_text()
        database = service.replace(".", "_").replace("-", "_")
        pg_support.provision(pg, "postgres", password.strip(), database)
        args.extra_hosts[alias] = pg["host"]


# --- the deploy ----------------------------------------------------------------------------


def build(cli: docker.DockerClient, app: str, source: Path, root: Path) -> str:
    tag = f"dokku/{app}:latest"
    say(f"Building {app} from Dockerfile")
    buildargs = {}
    for line in st.docker_options(app, "build", root):
        words = shlex.split(line)
        for i, word in enumerate(words):
            if word == "--build-arg" and i + 1 < len(words):
                key, _, val = words[i + 1].partition("=")
                buildargs[key] = val
            elif word.startswith("--build-arg="):
                key, _, val = word.split("=", 1)[1].partition("=")
                buildargs[key] = val
    try:
        cli.images.build(path=str(source), tag=tag, network_mode="none", rm=True, forcerm=True,
                         pull=False, buildargs=buildargs,
                         labels={"com.dokku.app-name": app, "com.dokku.image-stage": "release"})
    except docker.errors.BuildError as exc:
        log = "".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log)
        raise DeployError(f"build of {tag} failed: {exc.msg}\n{log[-3000:]}") from exc
    appjson = source / "app.json"
    keep = app_json_path(app, root)
    keep.parent.mkdir(parents=True, exist_ok=True)
    if appjson.is_file():
        keep.write_bytes(appjson.read_bytes())
    else:
        keep.unlink(missing_ok=True)
    return tag


def app_json_path(app: str, root: Path) -> Path:
    return st.lib_root(root) / "data/app-json" / app / "app.json"


def ensure_network(cli: docker.DockerClient, name: str) -> docker.models.networks.Network:
    try:
        return cli.networks.get(name)
    except docker.errors.NotFound:
        # The bed normally creates it first (with the subnet it chose); a real `network:create`
        # would have made it at create time.
        return create_network(cli, name)


def create_network(cli: docker.DockerClient, name: str, labels: dict[str, str] | None = None,
                   ) -> docker.models.networks.Network:
    """A bridge network with an explicit subnet and gateway (never rely on Docker's
    defaults or on docker0 here)."""
    for attempt in range(5):
        subnet = free_subnet(cli)
        gateway = subnet.rsplit(".", 1)[0] + ".1"
        ipam = docker.types.IPAMConfig(pool_configs=[
            docker.types.IPAMPool(subnet=subnet, gateway=gateway)])
        try:
            return cli.networks.create(name, driver="bridge", ipam=ipam, attachable=True,
                                       labels=labels or {})
        except docker.errors.APIError as exc:
            # Another test run took the same /24 between our look and our create.
            if "overlap" not in str(exc).lower() or attempt == 4:
                raise
    raise AssertionError("unreachable")


def free_subnet(cli: docker.DockerClient) -> str:
    used = set()
    for net in cli.networks.list():
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            used.add(cfg.get("Subnet", "").rsplit(".", 1)[0])
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for line in routes.splitlines():
        used.add(line.split("/")[0].rsplit(".", 1)[0])
    candidates = [f"172.{b}.{c}" for b in range(28, 32) for c in range(0, 256)]
    random.shuffle(candidates)
    for prefix in candidates:
        if prefix not in used:
            return prefix + ".0/24"
    raise DeployError("no free /24 in 172.28-31.x.x for a test network")


def create_container(cli: docker.DockerClient, app: str, image: str, root: Path) -> str:
    args = create_args(app, root)
    postgres_link_hosts(app, args, root)
    name = f"{app}.web.1.upcoming-{random.randint(0, 32767)}"
    initial = prop("network", app, "initial-network", root)
    host_config = cli.api.create_host_config(
        binds=args.binds,
        init=True,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 10},
        log_config=docker.types.LogConfig(type="json-file", config={"max-size": "10m"}),
        extra_hosts=args.extra_hosts or None,
        mem_limit=args.mem_limit,
        nano_cpus=args.nano_cpus,
        network_mode=initial or None,
    )
    created = cli.api.create_container(
        image, name=name, environment=args.env, labels=args.labels, host_config=host_config,
    )
    return created["Id"]


def attach_post_create(cli: docker.DockerClient, app: str, cid: str, root: Path) -> str | None:
    networks = prop("network", app, "attach-post-create", root)
    if not networks:
        return None
    net_name = networks.split(",")[0]  # Dokku connects only the first one
    if net_name not in st.networks(root):
        raise DeployError(f"Network {net_name} does not exist")
    net = ensure_network(cli, net_name)
    hostname = cli.api.inspect_container(cid)["Config"]["Hostname"]
    alias = f"{app}.web"
    tld = prop("network", app, "tld", root)
    if tld:
        alias = f"{alias}.{tld}"
    net.connect(cid, aliases=[alias, f"{hostname}.{alias}"])
    return net_name


def container_ip(cli: docker.DockerClient, cid: str, network: str | None) -> str:
    nets = cli.api.inspect_container(cid)["NetworkSettings"]["Networks"]
    if network and network in nets:
        return nets[network]["IPAddress"]
    for value in nets.values():
        if value.get("IPAddress"):
            return value["IPAddress"]
    return ""


def healthchecks(app: str, root: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(app_json_path(app, root).read_text())
    except FileNotFoundError:
        return []
    return [c for c in (doc.get("healthchecks") or {}).get("web", [])
            if c.get("type", "startup") in ("startup", "readiness")]


def run_checks(cli: docker.DockerClient, app: str, cid: str, ip: str, port: str,
               root: Path) -> None:
    checks = healthchecks(app, root)
    if not checks:
        wait = int(prop("checks", app, "default-wait", root) or DEFAULT_CHECKS_WAIT)
        verbose(f"Waiting for {wait} seconds (uptime check)")
        time.sleep(wait)
        _require_running(cli, cid)
        return
    for check in checks:
        path, attempts = check.get("path", "/"), int(check.get("attempts", 5))
        wait, timeout = float(check.get("wait", 5)), float(check.get("timeout", 5))
        url = f"http://{ip}:{check.get('port', port)}{path}"
        verbose(f"Running healthcheck name='{check.get('name', path)}' path='{path}'")
        for attempt in range(1, attempts + 1):
            _require_running(cli, cid)
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    if 200 <= resp.status < 400:
                        break
            except OSError:
                pass
            if attempt == attempts:
                raise DeployError(f"healthcheck {path} failed after {attempts} attempts")
            time.sleep(wait)


def _require_running(cli: docker.DockerClient, cid: str) -> None:
    info = cli.api.inspect_container(cid)
    if not info["State"]["Running"] or info["RestartCount"]:
        logs = cli.api.logs(cid, tail=40).decode(errors="replace")
        raise DeployError(f"container {cid[:12]} is not running\n{logs}")


def app_file(app: str, name: str, root: Path) -> Path:
    return st.dokku_root(root) / app / name


def read_app_file(app: str, name: str, root: Path) -> str:
    try:
        return app_file(app, name, root).read_text().strip()
    except FileNotFoundError:
        return ""


def rename_containers(cli: docker.DockerClient, app: str, cid: str) -> None:
    name = f"{app}.web.1"
    for old in cli.containers.list(all=True, filters={"name": f"^/{name}$"}):
        if old.id != cid and old.status != "dead":
            old.rename(f"{name}.{int(time.time())}")
    cli.api.rename(cid, name)


def trigger(*args: str) -> int:
    return subprocess.run(["plugn", "trigger", *args]).returncode


def retire_later(old_ids: list[str], wait: int) -> None:
    """SIGTERM now, stop after `wait` seconds in a detached process (the deploy returns)."""
    cli = docker.from_env()
    for oid in old_ids:
        with contextlib.suppress(docker.errors.APIError):
            cli.api.kill(oid, signal="SIGTERM")
    say(f"Shutting down old containers in {wait} seconds")
    subprocess.Popen(
        [sys.executable, __file__, "--retire", str(wait), *old_ids],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def retire(wait: int, old_ids: list[str]) -> None:
    time.sleep(wait)
    cli = docker.from_env()
    for oid in old_ids:
        try:
            cli.api.update_container(oid, restart_policy={"Name": "no"})
            cli.api.stop(oid, timeout=STOP_TIMEOUT)
        except docker.errors.APIError:
            with contextlib.suppress(docker.errors.APIError):
                cli.api.kill(oid)


def cleanup(cli: docker.DockerClient, app: str) -> None:
    """What Dokku does before every build (plugins/common/functions dokku_receive ->
    docker_cleanup, plugins/common/docker.go pruneUnusedImages): remove every image labelled
    `com.dokku.app-name=<app>` that no container uses."""
    cli.api.prune_images(filters={"dangling": False, "label": f"com.dokku.app-name={app}"})


def deploy(app: str, source: str, root: Path) -> int:
    cli = docker.from_env(timeout=600)
    image = f"dokku/{app}:latest"
    if source:
        cleanup(cli, app)
        build(cli, app, Path(source), root)
    try:
        cli.images.get(image)
    except docker.errors.ImageNotFound:
        raise DeployError(f"no image {image}: the app was never built") from None
    old = read_app_file(app, "CONTAINER.web.1", root)
    old_ids = [old] if old else []
    say(f"Deploying {app} via the docker-local scheduler...")
    checks_disabled = checks_disabled_for(app, "web", root)
    if checks_disabled:
        verbose("Zero downtime is disabled, stopping currently running containers  (web)")
        for oid in old_ids:
            with contextlib.suppress(docker.errors.NotFound):
                cli.api.update_container(oid, restart_policy={"Name": "no"})
                cli.api.stop(oid, timeout=STOP_TIMEOUT)
        old_ids = []
    cid = create_container(cli, app, image, root)
    try:
        network = attach_post_create(cli, app, cid, root)
        cli.api.start(cid)
        ip, port = container_ip(cli, cid, network), web_port(app, root)
        if not checks_disabled:
            verbose("Attempting pre-flight checks (web.1)")
            run_checks(cli, app, cid, ip, port, root)
    except Exception:
        # Dokku's kill_new: a failed new container goes, the old one keeps serving.
        cli.api.update_container(cid, restart_policy={"Name": "no"})
        cli.api.stop(cid, timeout=10)
        raise
    for name, value in (("CONTAINER.web.1", cid), ("IP.web.1", ip), ("PORT.web.1", port)):
        st.write_atomic(app_file(app, name, root), value + "\n", 0o644)
    say("Renaming containers")
    rename_containers(cli, app, cid)
    say("Running post-deploy")
    # Dokku fires core-post-deploy (its own plugins: the rename above, nginx) then post-deploy.
    code = trigger("core-post-deploy", app, "", "", "latest") or \
        trigger("post-deploy", app, "", "", "latest")
    if code != 0:
        return code
    if old_ids:
        wait = int(prop("checks", app, "wait-to-retire", root) or DEFAULT_WAIT_TO_RETIRE)
        retire_later(old_ids, wait)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--retire"]:
        retire(int(argv[1]), argv[2:])
        return 0
    app, source = argv[0], argv[1] if len(argv) > 1 else ""
    root = st.root_of(None)
    try:
        return deploy(app, source, root)
    except DeployError as exc:
        print(f" !     {exc}", file=sys.stderr, flush=True)
        return 1


def install_hook(root: Path) -> Path:
    """The executable the stand-in runs as STANDIN_DEPLOY_HOOK, installed in its root.

    It runs as the dokku user, which may not reach this checkout: this module and its
    helper are copied into the root and run with the plugin's own venv (docker-py), which
    `plugin:install` made for exactly that user."""
    import shutil

    lib = root / "usr/lib/djh-bed"
    lib.mkdir(parents=True, exist_ok=True)
    lib.chmod(0o755)
    for name in ("docker_local.py", "postgres.py"):
        shutil.copy(HERE / name, lib / name)
        (lib / name).chmod(0o644)
    hook = lib / "deploy-hook"
    hook.write_text(
        "#!/bin/sh\n"
        "# Dokku's docker-local scheduler for the test bed (tests/support/docker_local.py).\n"
        'exec "$DOKKU_LIB_ROOT/data/jupyterhub/venv/bin/python3" '
        f'{shlex.quote(str(lib / "docker_local.py"))} "$@"\n'
    )
    hook.chmod(0o755)
    return hook


# --- the proxy in front of the app (Dokku's nginx) ------------------------------------------


class ProxyStandin:
    """What Dokku's nginx does for the bed: a stable address forwarding every request to the
    app's web listener, with nginx's X-Forwarded headers: the network property
    `static-web-listener`'s address when set, else the current web container
    (`IP.web.1`, rewritten by each deploy), on the port map's container port (the nginx
    template's `server {{ $listener_ip }}:{{ $upstream_port }}`). Websockets (an Upgrade
    request) are passed through as a byte stream, as nginx's `proxy_http_version 1.1` with
    the Upgrade headers does."""

    def __init__(self, app: str, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app, self.root = app, root
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def upstream(self) -> str:
        static = st.prop_get("network", self.app, "static-web-listener", self.root) or ""
        ip = static.rsplit(":", 1)[0] if static else read_app_file(self.app, "IP.web.1",
                                                                     self.root)
        port = web_port(self.app, self.root) if static else read_app_file(
            self.app, "PORT.web.1", self.root)
        return f"{ip}:{port}" if ip and port else ""

    def start(self) -> ProxyStandin:
        import threading

        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _forward(self) -> None:
                import http.client

                upstream = proxy.upstream()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if not upstream:
                    self._reply(502, [], b"no upstream")
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "keep-alive", "proxy-connection")}
                headers["X-Forwarded-For"] = self.client_address[0]
                headers["X-Forwarded-Proto"] = "http"
                headers["X-Forwarded-Port"] = str(self.server.server_address[1])
                headers["X-Real-IP"] = self.client_address[0]
                if (self.headers.get("Upgrade") or "").lower() == "websocket":
                    self._tunnel(upstream, headers)
                    return
                conn = http.client.HTTPConnection(upstream, timeout=120)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    skip = ("transfer-encoding", "connection", "content-length", "keep-alive")
                    out = [(k, v) for k, v in resp.getheaders() if k.lower() not in skip]
                    self._reply(resp.status, out, data)
                except OSError as exc:
                    self._reply(502, [], f"upstream {upstream}: {exc}".encode())
                finally:
                    conn.close()

            def _tunnel(self, upstream: str, headers: dict[str, str]) -> None:
                """The request as it came, then bytes both ways until either side closes."""
                import selectors
                import socket

                host, port = upstream.rsplit(":", 1)
                try:
                    back = socket.create_connection((host, int(port)), timeout=10)
                except OSError as exc:
                    self._reply(502, [], f"upstream {upstream}: {exc}".encode())
                    return
                back.settimeout(None)
                headers["Connection"] = "Upgrade"
                head = f"{self.command} {self.path} HTTP/1.1\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
                back.sendall(head.encode("latin-1"))
                front = self.connection
                self.close_connection = True
                sel = selectors.DefaultSelector()
                sel.register(front, selectors.EVENT_READ, back)
                sel.register(back, selectors.EVENT_READ, front)
                try:
                    while True:
                        for key, _ in sel.select():
                            data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                            if not data:
                                return
                            key.data.sendall(data)
                except OSError:
                    return
                finally:
                    sel.close()
                    back.close()

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        return Handler


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
