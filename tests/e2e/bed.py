"""The end-to-end bed: a Dokku stand-in host with this plugin installed, a hub app created by
`dokku jupyterhub:create` and deployed the way docker-local deploys it, and a "browser".

Real: Docker (hub and notebook containers, the app's user-defined network), JupyterHub,
DockerSpawner, the idle culler, PostgreSQL, the plugin's own build of the notebook image.
Stand-ins: Dokku (tests/standin + support/docker_local.py as its scheduler and nginx) and
Azure AD (support/oidc_standin.py).

Everything the bed makes carries its app name (`e2e-<hex>`): the hub containers (label
`com.dokku.app-name`), the notebook containers (on `<app>-network`, named by the hub with the
app's prefix), the network, the images `dokku/<app>*`. `close()` removes exactly those.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import docker
import docker.errors
import requests

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "tests" / "standin"
# Appended, not prepended: `standin` must stay the package tests/standin, not standin.py.
sys.path.append(str(STANDIN))

import state as st  # noqa: E402
from support import docker_local  # noqa: E402
from support.oidc_standin import AzureADStandin  # noqa: E402
from support.postgres import Cluster  # noqa: E402

WAIT_TO_RETIRE = 5  # seconds; Dokku's default 60 only slows the bed down


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120,
             interval: float = 0.5) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (requests.RequestException, docker.errors.APIError, OSError) as exc:
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                         + (f" (last error: {last_exc})" if last_exc else ""))


def checkout_snapshot(dest: Path) -> Path:
    """A git repo holding this working tree (tracked and untracked, not ignored), committed,
    so `plugin:install file://...` installs the code as it is now (as the bats helper does)."""
    files = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.split(b"\0")
    dest.mkdir(parents=True)
    for raw in filter(None, files):
        rel = raw.decode()
        src = REPO / rel
        if not (src.exists() or src.is_symlink()):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    git = ["git", "-C", str(dest), "-c", "user.name=bed", "-c", "user.email=bed@localhost"]
    subprocess.run([*git, "init", "--quiet", "--initial-branch=main"], check=True)
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "working tree snapshot"], check=True)
    return dest


@dataclass
class Bed:
    cli: docker.DockerClient
    app: str
    root: Path
    network: str
    subnet: str
    gateway: str
    env: dict[str, str]
    proxy: docker_local.ProxyStandin
    idp: AzureADStandin | None = None
    pg: Cluster | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    # --- Dokku ---------------------------------------------------------------------------
    def dokku(self, *args: str, input: bytes | None = None, check: bool = True,
              ) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.root / "usr/bin/dokku"), *args], input=input,
                              capture_output=True, env=self.env, cwd="/")
        if check and proc.returncode != 0:
            raise AssertionError(
                f"dokku {' '.join(args[:2])} failed ({proc.returncode}):\n"
                f"{proc.stdout.decode(errors='replace')[-4000:]}\n"
                f"{proc.stderr.decode(errors='replace')[-4000:]}")
        return proc

    def config(self) -> dict[str, str]:
        return {**st.read_env("--global", self.root), **st.read_env(self.app, self.root)}

    def deploys(self) -> list[dict[str, Any]]:
        return st.deploys(self.app, self.root)

    def prop(self, key: str) -> str | None:
        return st.prop_get("jupyterhub", self.app, key, self.root)

    @property
    def data_root(self) -> Path:
        return Path(self.config()["HUB_HOST_DATA_DIR"])

    # --- containers ----------------------------------------------------------------------
    def hub_container(self) -> docker.models.containers.Container:
        cid = docker_local.read_app_file(self.app, "CONTAINER.web.1", self.root)
        return self.cli.containers.get(cid)

    def hub_containers(self) -> list[dict[str, Any]]:
        return containers(self.cli, label=f"com.dokku.app-name={self.app}")

    def notebook_containers_named(self, user: str) -> list[str]:
        """Ids of the user's notebook container(s), by DockerSpawner's `{prefix}-{username}`
        name (the username escaped its way: `-` becomes `-2d`)."""
        from dockerspawner import DockerSpawner

        suffix = f"-{DockerSpawner._escape(user)}"
        return [c["Id"] for c in containers(self.cli)
                if any(n.startswith(f"/{self.app}-") and n.endswith(suffix)
                       for n in c["Names"])]

    def notebook_container(self, user: str) -> docker.models.containers.Container | None:
        for cid in self.notebook_containers_named(user):
            with contextlib.suppress(docker.errors.NotFound):
                c = self.cli.containers.get(cid)
                if c.status == "running":
                    return c
        return None

    def notebook_image(self) -> docker.models.images.Image:
        return self.cli.images.get(self.config()["DOCKER_JUPYTER_IMAGE"])

    def wait_hub(self, timeout: float = 120) -> None:
        wait_for("the hub to answer through the proxy",
                 lambda: requests.get(f"{self.url}/hub/health", timeout=5).ok, timeout)

    @property
    def url(self) -> str:
        return self.proxy.url

    def admin_password(self) -> str:
        out = self.dokku("config:get", self.app, "HUB_ADMIN_PASSWORD").stdout.decode()
        return out.strip()

    def plugin_api(self, path: str) -> Any:
        """The hub's REST API with the plugin's read-only service token."""
        token = self.config()["HUB_PLUGIN_API_TOKEN"]
        resp = requests.get(f"{self.url}/hub/api{path}", timeout=10,
                            headers={"Authorization": f"token {token}"})
        resp.raise_for_status()
        return resp.json()

    # --- source deploys like a git push --------------------------------------------------
    def export(self) -> dict[str, bytes]:
        """`dokku jupyterhub:export <app> -`: the app's source as the admin would take it."""
        import io
        import tarfile

        data = self.dokku("jupyterhub:export", self.app, "-").stdout
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    rel = member.name.split("/", 1)[1]
                    files[rel] = tar.extractfile(member).read()  # type: ignore[union-attr]
        return files

    def push(self, files: dict[str, bytes]) -> subprocess.CompletedProcess:
        """Deploy a changed source with `git:from-archive` (what a git push does)."""
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for rel, data in sorted(files.items()):
                info = tarfile.TarInfo(f"{self.app}/{rel}")
                info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
                tar.addfile(info, io.BytesIO(data))
        return self.dokku("git:from-archive", self.app, "--", input=buf.getvalue())

    # --- teardown ------------------------------------------------------------------------
    def close(self) -> None:
        for closer in reversed(self.closers):
            with contextlib.suppress(Exception):
                closer()
        cleanup_docker(self.cli, self.app, self.network)
        shutil.rmtree(self.root, ignore_errors=True)


def containers(cli: docker.DockerClient, **filters: str) -> list[dict[str, Any]]:
    """Low-level listing: no per-container inspect, so containers of other test runs that
    vanish meanwhile do not break it."""
    return cli.api.containers(all=True, filters=filters or None)


def cleanup_docker(cli: docker.DockerClient, app: str, network: str) -> None:
    """Remove what the bed made for `app`, and nothing else."""
    doomed = {c["Id"] for c in containers(cli, label=f"com.dokku.app-name={app}")}
    doomed |= {c["Id"] for c in containers(cli, label=f"org.dokku-jupyterhub.app={app}")}
    doomed |= {c["Id"] for c in containers(cli, network=network)}
    doomed |= {c["Id"] for c in containers(cli)
               if any(n.startswith((f"/{app}-", f"/{app}.")) for n in c["Names"])}
    for cid in doomed:
        with contextlib.suppress(docker.errors.APIError):
            cli.api.remove_container(cid, force=True)
    with contextlib.suppress(docker.errors.APIError):
        cli.api.remove_network(network)
    for image in cli.api.images(all=True):
        tags = image.get("RepoTags") or []
        mine = any(t.startswith((f"dokku/{app}:", f"dokku/{app}-")) for t in tags)
        labels = image.get("Labels") or {}
        owners = (labels.get("com.dokku.app-name"), labels.get("org.dokku-jupyterhub.app"))
        if mine or app in owners:
            with contextlib.suppress(docker.errors.APIError):
                cli.api.remove_image(image["Id"], force=True)


def make_bed(cli: docker.DockerClient, *, postgres: bool, azure: bool,
             create_args: tuple[str, ...], bases: dict[str, str]) -> Bed:
    """Stand-in host, plugin installed, network, services, then `jupyterhub:create`."""
    app = f"e2e-{secrets.token_hex(3)}"
    root = Path(tempfile.mkdtemp(prefix="djh-e2e-", dir="/tmp"))
    root.chmod(0o755)
    network = f"{app}-network"
    net = docker_local.create_network(cli, network)
    cfg = net.attrs["IPAM"]["Config"][0]
    bed = Bed(cli=cli, app=app, root=root, network=network, subnet=cfg["Subnet"],
              gateway=cfg["Gateway"], env={}, proxy=None)  # type: ignore[arg-type]
    try:
        _setup(bed, postgres=postgres, azure=azure, create_args=create_args, bases=bases)
    except BaseException:
        bed.close()
        raise
    return bed


def _setup(bed: Bed, *, postgres: bool, azure: bool, create_args: tuple[str, ...],
           bases: dict[str, str]) -> None:
    plugins = ["--plugin", "postgres"] if postgres else []
    subprocess.run([sys.executable, str(STANDIN / "layout.py"), str(bed.root), *plugins],
                   check=True, stdout=subprocess.DEVNULL)
    hook = docker_local.install_hook(bed.root)
    bed.env = {
        "PATH": f"{bed.root}/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "STANDIN_ROOT": str(bed.root),
        "STANDIN_DEPLOY_HOOK": str(hook),
        "DOKKU_DISABLE_TTY": "true",
    }
    if postgres:
        bed.pg = Cluster(listen=[bed.gateway], port=5432, allow_cidrs=[bed.subnet]).start()
        bed.closers.append(bed.pg.stop)
        bed.env["DJH_TEST_POSTGRES"] = json.dumps(bed.pg.where())
    bed.proxy = docker_local.ProxyStandin(bed.app, bed.root).start()
    bed.closers.append(bed.proxy.stop)
    if azure:
        bed.idp = AzureADStandin(host=bed.gateway).start()
        bed.closers.append(bed.idp.stop)

    src = checkout_snapshot(bed.root / "src" / "dokku-jupyterhub")
    bed.dokku("plugin:install", f"file://{src}")
    bed.dokku("jupyterhub:set", "--global", "hub-base-image", bases["hub"])
    bed.dokku("jupyterhub:set", "--global", "notebook-base-image", bases["notebook"])
    # What `dokku checks:set --global wait-to-retire N` records (the stand-in has no checks
    # plugin): a property file owned by dokku, as Dokku's properties are.
    st.prop_set("checks", "--global", "wait-to-retire", str(WAIT_TO_RETIRE), bed.root)
    owner = pwd.getpwnam("dokku")
    for path in (st.prop_dir("checks", "--global", bed.root).parent,
                 st.prop_dir("checks", "--global", bed.root),
                 st.prop_dir("checks", "--global", bed.root) / "wait-to-retire"):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    bed.dokku("jupyterhub:create", bed.app, *create_args)
    bed.wait_hub()


# --- the browser -------------------------------------------------------------------------


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action") or ""
        if tag == "input" and a.get("name"):
            self.fields[a["name"] or ""] = a.get("value") or ""


def parse_form(html: str) -> _Form:
    form = _Form()
    form.feed(html)
    return form


class Browser:
    """A user's browser: cookies, JupyterHub's XSRF token, OAuth redirects followed."""

    def __init__(self, bed: Bed) -> None:
        self.bed = bed
        self.s = requests.Session()
        self.name: str | None = None

    def xsrf_headers(self) -> dict[str, str]:
        token = self.s.cookies.get("_xsrf", path="/hub/")
        return {"X-XSRFToken": token} if token else {}

    def login_password(self, username: str, password: str) -> requests.Response:
        """The closed default: JupyterHub's login form."""
        page = self.s.get(f"{self.bed.url}/hub/login", timeout=10)
        form = parse_form(page.text)
        data = {**form.fields, "username": username, "password": password}
        resp = self.s.post(f"{self.bed.url}/hub/login?next=%2Fhub%2Fhome", data=data,
                           timeout=30)
        if resp.ok and urlsplit(resp.url).path == "/hub/home":
            self.name = username
        return resp

    def login_azure(self, upn: str) -> requests.Response:
        """Click "Sign in with Azure AD", sign in at the provider, come back to the hub."""
        page = self.s.get(f"{self.bed.url}/hub/oauth_login?next=%2Fhub%2Fhome", timeout=30)
        assert page.ok and "/oauth2/authorize" in page.url, (page.status_code, page.url)
        form = parse_form(page.text)
        data = {**form.fields, "login": upn}
        resp = self.s.post(urljoin(page.url, form.action or page.url), data=data, timeout=60)
        if resp.ok and urlsplit(resp.url).path == "/hub/home":
            self.name = self.whoami()["name"]
        return resp

    def whoami(self) -> dict[str, Any]:
        resp = self.s.get(f"{self.bed.url}/hub/api/user", headers=self.xsrf_headers(),
                          timeout=10)
        resp.raise_for_status()
        return resp.json()

    def token(self) -> str:
        """An API token for this user (what the hub's token page hands out)."""
        resp = self.s.post(f"{self.bed.url}/hub/api/users/{self.name}/tokens",
                           json={"note": "e2e", "expires_in": 3600},
                           headers=self.xsrf_headers(), timeout=10)
        resp.raise_for_status()
        return resp.json()["token"]

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.s.get(f"{self.bed.url}{path}", timeout=kw.pop("timeout", 30), **kw)

    def open_server(self) -> requests.Response:
        """Open the user's server as a browser does (`/user/<name>/`): the server sends the
        browser through the hub's OAuth and sets its own cookie, then shows JupyterLab."""
        return self.get(f"/user/{self.name}/", timeout=60)


class User:
    """What a logged-in user does, through the hub's and their server's REST APIs."""

    def __init__(self, bed: Bed, browser: Browser) -> None:
        assert browser.name, "log the browser in first"
        self.bed, self.browser, self.name = bed, browser, browser.name
        self.headers = {"Authorization": f"token {browser.token()}"}

    def hub(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.bed.url}/hub/api{path}", headers=self.headers,
                                timeout=kw.pop("timeout", 30), **kw)

    def server(self) -> dict[str, Any] | None:
        model = self.hub("GET", f"/users/{self.name}").json()
        return (model.get("servers") or {}).get("")

    def start(self, timeout: float = 180) -> float:
        """Start the server; returns seconds from the request until it is ready."""
        t0 = time.monotonic()
        resp = self.hub("POST", f"/users/{self.name}/server")
        assert resp.status_code in (201, 202), (resp.status_code, resp.text)
        wait_for(f"{self.name}'s server to be ready",
                 lambda: (self.server() or {}).get("ready"), timeout)
        return time.monotonic() - t0

    def stop(self, timeout: float = 120) -> None:
        resp = self.hub("DELETE", f"/users/{self.name}/server")
        assert resp.status_code in (202, 204), (resp.status_code, resp.text)
        self.wait_stopped(timeout)

    def wait_stopped(self, timeout: float = 120) -> None:
        wait_for(f"{self.name}'s server to stop", lambda: self.server() is None, timeout)
        # The hub forgets the server before Docker has removed its container: a new spawn
        # must not race the old container's name.
        wait_for(f"{self.name}'s container to be removed",
                 lambda: not self.bed.notebook_containers_named(self.name), timeout)

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        """The user's own server: `/user/<name>/api/...`."""
        return requests.request(method, f"{self.bed.url}/user/{self.name}/api{path}",
                                headers=self.headers, timeout=kw.pop("timeout", 30), **kw)

    def put_file(self, path: str, text: str) -> requests.Response:
        return self.api("PUT", f"/contents/{path}",
                        json={"type": "file", "format": "text", "content": text})

    def get_file(self, path: str) -> requests.Response:
        return self.api("GET", f"/contents/{path}")

    def container(self) -> docker.models.containers.Container:
        c = self.bed.notebook_container(self.name)
        assert c is not None, f"no container for {self.name}"
        return c


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def error_text(resp: requests.Response) -> str:
    """The visible message of a JupyterHub error page."""
    text = re.sub(r"<[^>]+>", " ", resp.text)
    return re.sub(r"\s+", " ", text)
