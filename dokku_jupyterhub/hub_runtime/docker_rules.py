"""What the hub may ask of the Docker engine: the pure rules of the docker gate (issue 20).

The hub no longer holds the raw Docker socket (whoever holds it is root on the host): it
talks to `docker_gate.py`, which forwards a request only when `check` allows it. What a
notebook container may look like is not written down here a second time: `check` decides
the user's spawn (`spawn_decision.decide`, from the policy file in force), applies it to a
stand-in spawner exactly as the hub does (`spawn.apply_to_dockerspawner`) and renders what
DockerSpawner and docker-py make of that, so a policy change (or a change of what the hub
applies) needs no edit here. The create body must then be exactly that, key by key.

    verdict = check("POST", "/v1.41/containers/create", {"name": [...]}, body, ctx, doc,
                    labels_of, image_of)
    verdict.allowed, verdict.reason, verdict.query  # query: narrowed filters, if any

No I/O: `labels_of(ref)` (the labels of an existing container, None when there is none)
and `image_of(ref)` (an image's id, None when there is none) ask the engine for the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import spawn
from .contract import LABEL_NOTEBOOK_APP, LABEL_NOTEBOOK_GROUPS, LABEL_NOTEBOOK_USER
from .policy import PolicyError, parse_memory
from .spawn_decision import SpawnDecision, SpawnRefused, decide

# What jupyterhub_config.py sets on DockerSpawner and the gate takes as given (anything
# else the create body says must follow from the spawn decision).
SPAWNER_REMOVE = True  # c.DockerSpawner.remove (the host config may override auto_remove)
SPAWNER_PORT = 8888  # DockerSpawner.port: the only port a server exposes
CPU_PERIOD = 100_000  # DockerSpawner's default cpu_period, in microseconds
NAMESPACE_MODES = ("", "private")  # PidMode, IpcMode, UTSMode, UsernsMode, CgroupnsMode

_VERSION_RE = re.compile(r"^/v([0-9]{1,2})\.([0-9]{1,3})(?=/)")
# Older API versions take a HostConfig in the body of a *start* (and more besides), which
# would undo everything the create was checked for.
MIN_API_VERSION = (1, 24)
_PATH_RE = re.compile(r"^(/[A-Za-z0-9._:@+-]+)+$|^/$")
_CONTAINER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_CONTAINER_OP_RE = re.compile(r"^/containers/([^/]+)(?:/([a-z]+))?$")
_IMAGE_JSON_RE = re.compile(r"^/images/(.+)/json$")
_NETWORK_RE = re.compile(r"^/networks/([^/]+)$")
IMAGE_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,511}$")
# Go's httputils.BoolValue: anything else is true.
_FALSE = ("", "0", "no", "false", "none")


@dataclass(frozen=True)
class GateContext:
    app: str
    network: str  # e.g. "hub-network"
    images: tuple[str, ...]  # the app's notebook image, plus pinned ones
    host_root: str  # HUB_HOST_DATA_DIR: the data tree as the host sees it
    prefix: str  # contract.container_prefix(app): servers are `<prefix>-<escaped user>`
    allow_all: bool = False
    groups_from_claim: bool = False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    # The query string to forward instead of the caller's (e.g. narrowed `filters`).
    query: dict[str, list[str]] | None = None
    # What a refusal answers: 403, or 404 for a container that does not exist (DockerSpawner
    # asks for its container by name before it creates one and expects "no such container").
    status: int = 403
    # The container reference an allowed operation acted on, as the caller named it: the
    # gate forwards the operation to the id it checked instead, so the name cannot be given
    # to another container between the check and the operation.
    container: str | None = None


LabelsOf = Callable[[str], dict[str, str] | None]
ImageOf = Callable[[str], str | None]


def _ok(query: dict[str, list[str]] | None = None, container: str | None = None) -> Verdict:
    return Verdict(True, query=query, container=container)


def _no(reason: str, status: int = 403) -> Verdict:
    return Verdict(False, reason, status=status)


class _Refuse(Exception):
    """Internal: the request is refused, for the reason it carries."""


def split_version(path: str) -> tuple[str, str]:
    """(`/v1.41` or "", the route): `/v1.41/containers/json` -> ("/v1.41", "/containers/json")."""
    m = _VERSION_RE.match(path)
    return (m.group(0), path[m.end():]) if m else ("", path)


def needs_policy(method: str, path: str) -> bool:
    """Whether `check` reads the policy for this request (only a create does)."""
    return method.upper() == "POST" and split_version(path)[1] == "/containers/create"


def check(
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: bytes | None,
    ctx: GateContext,
    policy_doc: dict[str, Any],
    labels_of: LabelsOf,
    image_of: ImageOf,
) -> Verdict:
    """Whether the hub may send this request to the engine. `path` is percent-decoded and
    `query` parsed (every value a list); what the gate forwards is exactly these."""
    method = method.upper()
    version, route = split_version(path)
    if not _PATH_RE.fullmatch(route) or any(p in (".", "..") for p in route.split("/")):
        return _no("malformed path")
    if version and tuple(int(n) for n in version[2:].split(".")) < MIN_API_VERSION:
        return _no(f"API version {version[1:]} is older than the hub's docker-py uses "
                   f"({'.'.join(map(str, MIN_API_VERSION))} at least)")
    try:
        verdict = _route(method, route, query, body, ctx, policy_doc, labels_of, image_of)
    except _Refuse as exc:
        return _no(str(exc))
    if verdict.allowed and body and not (method == "POST" and route == "/containers/create"):
        return _no("only a create has a request body")
    return verdict


def _route(
    method: str,
    route: str,
    query: dict[str, list[str]],
    body: bytes | None,
    ctx: GateContext,
    policy_doc: dict[str, Any],
    labels_of: LabelsOf,
    image_of: ImageOf,
) -> Verdict:
    if route == "/_ping" and method in ("GET", "HEAD"):
        return _ok()
    if route == "/version" and method == "GET":
        return _ok()
    if route == "/containers/create":
        if method != "POST":
            raise _Refuse(f"{method} {route} is not an operation the hub needs")
        return check_create(query, body, ctx, policy_doc, image_of)
    if route == "/containers/json" and method == "GET":
        _only_params(query, ("all", "limit", "size", "trunc_cmd", "since", "before", "filters"))
        return _ok(query=narrow_filters(query, ctx.app))
    if route == "/events" and method == "GET":
        _only_params(query, ("since", "until", "filters"))
        return _ok(query=narrow_filters(query, ctx.app))
    m = _CONTAINER_OP_RE.fullmatch(route)
    if m:
        return _container_op(method, m.group(1), m.group(2), query, ctx, labels_of)
    m = _IMAGE_JSON_RE.fullmatch(route)
    if m and method == "GET":
        _only_params(query, ())
        if not image_allowed(m.group(1), ctx, image_of):
            raise _Refuse(f"image {m.group(1)} is not this hub's notebook image")
        return _ok()
    if route == "/images/create" and method == "POST":
        return _check_pull(query, body, ctx)
    m = _NETWORK_RE.fullmatch(route)
    if m and method == "GET":
        _only_params(query, ("verbose", "scope"))
        if m.group(1) != ctx.network:
            raise _Refuse(f"network {m.group(1)} is not this hub's network {ctx.network}")
        return _ok()
    raise _Refuse(f"{method} {route} is not an operation the hub needs")


# ---- query strings -------------------------------------------------------------------------


def _only_params(query: dict[str, list[str]], allowed: tuple[str, ...]) -> None:
    for key, values in query.items():
        if key not in allowed:
            raise _Refuse(f"query parameter {key!r} is not allowed here")
        if len(values) != 1:
            raise _Refuse(f"query parameter {key!r} is given {len(values)} times")


def _param(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE


def narrow_filters(query: dict[str, list[str]], app: str) -> dict[str, list[str]]:
    """The query with its `filters` (Docker's JSON, either form) also requiring the app's
    label and a user's: label filters all have to match, so whatever else the caller asks
    is narrowed."""
    raw = _param(query, "filters") or ""
    try:
        filters = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise _Refuse("filters is not valid JSON") from None
    if not isinstance(filters, dict):
        raise _Refuse("filters must be a JSON object")
    merged: dict[str, list[str]] = {}
    for key, value in filters.items():
        if isinstance(value, dict):  # the older {"label": {"a=b": true}} form
            value = [k for k, v in value.items() if v is True]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Refuse(f"filters.{key} must be a list of strings")
        merged[str(key)] = list(value)
    # The app's notebook servers only: the proxy and the gate carry the app's label too,
    # but no user's.
    for own in (f"{LABEL_NOTEBOOK_APP}={app}", LABEL_NOTEBOOK_USER):
        if own not in merged.setdefault("label", []):
            merged["label"].append(own)
    return {**query, "filters": [json.dumps(merged, sort_keys=True, separators=(",", ":"))]}


# ---- existing containers -------------------------------------------------------------------

# (method, operation) -> the query parameters it may have. None: the container itself.
CONTAINER_OPS: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("GET", "json"): ("size",),
    ("POST", "start"): (),
    ("POST", "stop"): ("t", "signal"),
    ("POST", "wait"): ("condition",),
    ("DELETE", None): ("v", "force", "link"),
    ("GET", "logs"): ("stdout", "stderr", "timestamps", "follow", "tail", "since", "until"),
    ("GET", "stats"): ("stream", "one-shot"),
}


def _container_op(
    method: str,
    ref: str,
    op: str | None,
    query: dict[str, list[str]],
    ctx: GateContext,
    labels_of: LabelsOf,
) -> Verdict:
    what = f"{method} {op or 'the container'}"
    if (method, op) not in CONTAINER_OPS:
        raise _Refuse(f"{what} is not an operation the hub needs on a container")
    _only_params(query, CONTAINER_OPS[(method, op)])
    if op is None and _truthy(_param(query, "link")):
        raise _Refuse("removing a link is not an operation the hub needs")
    if not _CONTAINER_RE.fullmatch(ref):
        raise _Refuse(f"malformed container reference {ref!r}")
    labels = labels_of(ref)
    if labels is None:
        return _no(f"No such container: {ref}", status=404)
    if labels.get(LABEL_NOTEBOOK_APP) != ctx.app or not labels.get(LABEL_NOTEBOOK_USER):
        raise _Refuse(f"container {ref} is not a notebook server of {ctx.app}")
    return _ok(container=ref)


# ---- images --------------------------------------------------------------------------------


def normal_image(ref: str) -> str:
    """`repo` and `repo:latest` are one image; a digest or a tag is kept as written."""
    for hub in ("docker.io/library/", "docker.io/"):
        if ref.startswith(hub):
            ref = ref[len(hub):]
            break
    if "@" in ref or ":" in ref.rsplit("/", 1)[-1]:
        return ref
    return f"{ref}:latest"


def is_image_ref(ref: str) -> bool:
    """A plain image reference or id (nothing that could leave `/images/<ref>/json`)."""
    return bool(IMAGE_REF_RE.fullmatch(ref)) and ".." not in ref and "//" not in ref


def image_allowed(ref: str, ctx: GateContext, image_of: ImageOf) -> bool:
    """`ref` names one of the hub's images, or is (by id) the image one of them names."""
    if not is_image_ref(ref):
        return False
    if normal_image(ref) in {normal_image(i) for i in ctx.images}:
        return True
    ref_id = image_of(ref)
    return ref_id is not None and any(image_of(i) == ref_id for i in ctx.images)


def _check_pull(query: dict[str, list[str]], body: bytes | None, ctx: GateContext) -> Verdict:
    _only_params(query, ("fromImage", "tag", "platform"))
    if body:
        raise _Refuse("an image pull has no body")
    repo = _param(query, "fromImage") or ""
    tag = _param(query, "tag") or ""
    if not repo:
        raise _Refuse("only pulls of the hub's pinned notebook image are allowed")
    ref = repo if not tag else f"{repo}@{tag}" if tag.startswith("sha256:") else f"{repo}:{tag}"
    if normal_image(ref) not in {normal_image(i) for i in ctx.images}:
        raise _Refuse(f"pulling {ref} is not allowed: it is not this hub's notebook image")
    if normal_image(ref).startswith("dokku/"):
        # As settings.notebook_pull_policy: images the plugin builds are never pulled (a
        # registry's image of the same name would replace the local build).
        raise _Refuse(f"pulling {ref} is not allowed: the plugin builds it on this host")
    return _ok()


# ---- creating a notebook container ---------------------------------------------------------

# Keys of the create body: checked against the decision, or allowed only empty (what
# docker-py sends for them by default: null, false, "", [], {} or 0).
TOP_CHECKED = (
    "Image", "User", "Labels", "HostConfig", "Env", "Cmd", "Entrypoint", "Volumes",
    "ExposedPorts", "NetworkingConfig", "AttachStdout", "AttachStderr",
)
TOP_EMPTY = (
    "Hostname", "Domainname", "Tty", "OpenStdin", "StdinOnce", "AttachStdin",
    "NetworkDisabled", "WorkingDir", "MacAddress", "StopSignal", "Healthcheck",
    "StopTimeout", "Runtime",
)
HOST_CHECKED = (
    "Binds", "Memory", "MemorySwap", "CpuPeriod", "CpuQuota", "NetworkMode", "AutoRemove",
    "RestartPolicy", "LogConfig", "PidMode", "IpcMode", "UTSMode", "UsernsMode",
    "CgroupnsMode",
)
HOST_EMPTY = (
    "Privileged", "Mounts", "Links", "CapAdd", "Devices", "DeviceRequests", "SecurityOpt",
    "Sysctls", "VolumesFrom", "PortBindings", "NanoCpus",
)
# How DockerSpawner's host config arguments (its own and the hub's extra_host_config)
# appear in the body docker-py sends.
_HOST_KWARGS = {
    "auto_remove": "AutoRemove",
    "mem_limit": "Memory",
    "memswap_limit": "MemorySwap",
    "cpu_period": "CpuPeriod",
    "cpu_quota": "CpuQuota",
    "network_mode": "NetworkMode",
}
_CREATE_KWARGS = {"user": "User", "labels": "Labels"}


def _empty(value: Any) -> bool:
    if value is None or value is False or value in ("", [], {}):
        return True
    return type(value) in (int, float) and value == 0


def _strings(value: Any, what: str) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Refuse(f"{what} must be a list of strings")


@dataclass(frozen=True)
class Expected:
    """What DockerSpawner sends for one decision, in the create body's own terms."""

    image: str
    user: str
    labels: dict[str, str]
    binds: frozenset[str]
    mount_points: frozenset[str]
    host: dict[str, Any]  # HostConfig keys of _HOST_KWARGS -> value (absent: not sent)


class _StandIn:
    """The attributes of a DockerSpawner that `spawn.apply_to_dockerspawner` sets."""


def expected_for(decision: SpawnDecision, ctx: GateContext) -> Expected:
    """Apply the decision as the hub does, then render it as DockerSpawner.create_object
    and docker-py's create_host_config do."""
    spawner: Any = _StandIn()
    spawn.apply_to_dockerspawner(spawner, decision, ctx.app, ctx.groups_from_claim)
    binds = set()
    for host_path, spec in spawner.volumes.items():
        mode = spec.get("mode", "rw")
        if spec.get("propagation"):
            mode = f"{mode},{spec['propagation']}"
        binds.add(f"{host_path}:{spec['bind']}:{mode}")
    kwargs: dict[str, Any] = {"auto_remove": SPAWNER_REMOVE}
    if spawner.mem_limit is not None:
        kwargs["mem_limit"] = spawner.mem_limit
    extra = dict(spawner.extra_host_config or {})
    if spawner.cpu_limit is not None:
        period = kwargs["cpu_period"] = extra.get("cpu_period", CPU_PERIOD)
        kwargs["cpu_quota"] = int(spawner.cpu_limit * period)
    kwargs.update(extra)
    kwargs.setdefault("network_mode", ctx.network)
    host: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key not in _HOST_KWARGS:
            raise _Refuse(f"the gate does not know how DockerSpawner sends host config {key!r}"
                          " (docker_rules needs to learn it)")
        if key in ("mem_limit", "memswap_limit") and isinstance(value, str):
            value = parse_memory(value)
        if key == "auto_remove" and not value:
            continue  # docker-py leaves a false AutoRemove out
        host[_HOST_KWARGS[key]] = value
    create = dict(spawner.extra_create_kwargs or {})
    unknown = set(create) - set(_CREATE_KWARGS)
    if unknown:
        raise _Refuse(f"the gate does not know how DockerSpawner sends {sorted(unknown)} "
                      "(docker_rules needs to learn it)")
    return Expected(
        image=spawner.image,
        user=str(create.get("user", "")),
        labels={str(k): str(v) for k, v in (create.get("labels") or {}).items()},
        binds=frozenset(binds),
        mount_points=frozenset(spec["bind"] for spec in spawner.volumes.values()),
        host=host,
    )


def check_create(
    query: dict[str, list[str]],
    body: bytes | None,
    ctx: GateContext,
    policy_doc: dict[str, Any],
    image_of: ImageOf,
) -> Verdict:
    _only_params(query, ("name", "platform"))
    if _param(query, "platform"):
        raise _Refuse("a platform is not something the hub asks for")
    name = _param(query, "name") or ""
    if not name.startswith(f"{ctx.prefix}-") or not _CONTAINER_RE.fullmatch(name):
        raise _Refuse(f"container name {name!r} is not {ctx.prefix}-<user>")
    try:
        config = json.loads(body or b"", object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise _Refuse(str(exc) if isinstance(exc, _Duplicate) else
                      "the create body is not JSON") from None
    if not isinstance(config, dict):
        raise _Refuse("the create body is not a JSON object")
    host = config.get("HostConfig")
    if not isinstance(host, dict):
        raise _Refuse("the create body has no HostConfig")
    # Anywhere but the environment (which only the server's processes see).
    if "docker.sock" in json.dumps({k: v for k, v in config.items() if k != "Env"}):
        raise _Refuse("the Docker socket may not be given to a notebook server")
    _keys(config, TOP_CHECKED, TOP_EMPTY, "")
    _keys(host, HOST_CHECKED, HOST_EMPTY, "HostConfig.")

    image = config.get("Image")
    if not isinstance(image, str) or not image_allowed(image, ctx, image_of):
        raise _Refuse(f"image {image!r} is not this hub's notebook image")
    labels = config.get("Labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise _Refuse("Labels must map strings to strings")
    if labels.get(LABEL_NOTEBOOK_APP) != ctx.app:
        raise _Refuse(f"label {LABEL_NOTEBOOK_APP} must be {ctx.app}")
    user = labels.get(LABEL_NOTEBOOK_USER, "")
    if not user:
        raise _Refuse(f"label {LABEL_NOTEBOOK_USER} (whose server it is) is missing")
    groups_label = labels.get(LABEL_NOTEBOOK_GROUPS, "")
    if groups_label and not ctx.groups_from_claim:
        raise _Refuse(f"label {LABEL_NOTEBOOK_GROUPS} is only honoured when the hub takes "
                      "groups from the login provider")
    extra_groups = tuple(sorted({g.strip() for g in groups_label.split(",") if g.strip()}))
    try:
        decision = decide(policy_doc, user, ctx.host_root, image, extra_groups,
                          allow_all=ctx.allow_all)
    except (SpawnRefused, PolicyError) as exc:
        raise _Refuse(str(exc)) from None
    want = expected_for(decision, ctx)

    if config.get("User") != want.user:
        raise _Refuse(f"User must be {want.user}, not {config.get('User')!r}")
    given = {k: v for k, v in labels.items() if k != LABEL_NOTEBOOK_GROUPS}
    wanted = {k: v for k, v in want.labels.items() if k != LABEL_NOTEBOOK_GROUPS}
    if given != wanted:
        extra = sorted(set(given) - set(wanted))
        raise _Refuse(f"labels must be exactly {sorted(wanted)}" +
                      (f" (not {extra})" if extra else ""))
    _check_ports(config.get("ExposedPorts"))
    _strings(config.get("Env"), "Env")  # the server's token is in there: never shown
    _strings(config.get("Cmd"), "Cmd")
    _strings(config.get("Entrypoint"), "Entrypoint")
    for key in ("AttachStdout", "AttachStderr"):
        if not isinstance(config.get(key, False), bool):
            raise _Refuse(f"{key} must be true or false")
    _check_binds(host.get("Binds"), want, decision)
    _check_volumes(config.get("Volumes"), want)
    _check_networking(config.get("NetworkingConfig"), ctx)
    _check_host(host, want, decision)
    return _ok()


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (or twice but for case: the engine's Go
    decoder matches keys case-insensitively), so the engine reads what was checked."""
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in pairs:
        if key.lower() in seen:
            raise _Duplicate(f"the create body gives {key} twice")
        seen.add(key.lower())
        out[key] = value
    return out


def _keys(obj: dict[str, Any], checked: tuple[str, ...], empty: tuple[str, ...],
          where: str) -> None:
    for key, value in obj.items():
        if key in checked:
            continue
        if key not in empty:
            raise _Refuse(f"{where}{key} is not something the hub sends")
        if not _empty(value):
            raise _Refuse(f"{where}{key} is not allowed (only its default)")


def _check_ports(ports: Any) -> None:
    if _empty(ports):
        return
    allowed = f"{SPAWNER_PORT}/tcp"
    if not isinstance(ports, dict) or set(ports) - {allowed}:
        raise _Refuse(f"ExposedPorts may only be {allowed}")
    if not all(_empty(v) for v in ports.values()):
        raise _Refuse("ExposedPorts values must be empty")


def _check_volumes(volumes: Any, want: Expected) -> None:
    if _empty(volumes):
        return
    if not isinstance(volumes, dict) or not all(_empty(v) for v in volumes.values()):
        raise _Refuse("Volumes must map mount points to {}")
    extra = sorted(set(volumes) - want.mount_points)
    if extra:
        raise _Refuse(f"Volumes {extra} are not mounts of this user's server")


def _check_networking(networking: Any, ctx: GateContext) -> None:
    if _empty(networking):
        return
    if not isinstance(networking, dict) or set(networking) - {"EndpointsConfig"}:
        raise _Refuse("NetworkingConfig may only have EndpointsConfig")
    endpoints = networking.get("EndpointsConfig") or {}
    if not isinstance(endpoints, dict) or set(endpoints) - {ctx.network}:
        raise _Refuse(f"NetworkingConfig may only name the network {ctx.network}")
    for endpoint in endpoints.values():
        if not _empty(endpoint) and (
            not isinstance(endpoint, dict) or not all(_empty(v) for v in endpoint.values())
        ):
            raise _Refuse("NetworkingConfig endpoint settings (aliases, addresses) are not "
                          "something the hub sends")


def _check_binds(binds: Any, want: Expected, decision: SpawnDecision) -> None:
    if _empty(binds):
        binds = []
    if not isinstance(binds, list) or not all(isinstance(b, str) for b in binds):
        raise _Refuse("HostConfig.Binds must be a list of strings")
    if len(set(binds)) != len(binds):
        raise _Refuse("HostConfig.Binds has a bind twice")
    given = set(binds)
    if given == want.binds:
        return
    wanted_modes = {b.rsplit(":", 1)[0]: b.rsplit(":", 1)[1] for b in want.binds}
    for bind in sorted(given - want.binds):
        where, _, mode = bind.rpartition(":")
        if where in wanted_modes:
            raise _Refuse(f"HostConfig.Binds: {where} must be {wanted_modes[where]} for "
                          f"{decision.user}, not {mode}")
        raise _Refuse(f"HostConfig.Binds: {bind} is not a folder of {decision.user}'s server")
    missing = sorted(want.binds - given)
    raise _Refuse(f"HostConfig.Binds is missing {', '.join(missing)}")


def _check_host(host: dict[str, Any], want: Expected, decision: SpawnDecision) -> None:
    for key in ("PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode"):
        value = host.get(key) or ""
        if value not in NAMESPACE_MODES:
            raise _Refuse(f"HostConfig.{key} must be private, not {value!r}")
    if host.get("NetworkMode") != want.host["NetworkMode"]:
        raise _Refuse(f"HostConfig.NetworkMode must be {want.host['NetworkMode']}, "
                      f"not {host.get('NetworkMode')!r}")
    restart = host.get("RestartPolicy")
    if not _empty(restart) and (
        not isinstance(restart, dict)
        or set(restart) - {"Name", "MaximumRetryCount"}
        or (restart.get("Name") or "no") != "no"
        or not _empty(restart.get("MaximumRetryCount"))
    ):
        raise _Refuse("HostConfig.RestartPolicy is not allowed (servers are not restarted)")
    log_config = host.get("LogConfig")
    if not _empty(log_config) and (
        not isinstance(log_config, dict) or not all(_empty(v) for v in log_config.values())
    ):
        raise _Refuse("HostConfig.LogConfig is not allowed (Docker's default logging only)")
    memory = host.get("Memory")
    if _empty(memory) and "Memory" in want.host:
        raise _Refuse(f"HostConfig.Memory is missing: {decision.user}'s limit is "
                      f"{decision.memory}")
    for key in ("Memory", "MemorySwap", "CpuPeriod", "CpuQuota", "AutoRemove"):
        value = host.get(key)
        expected = want.host.get(key)
        if expected is None:
            if not _empty(value):
                raise _Refuse(f"HostConfig.{key} must not be set for {decision.user}")
            continue
        if (type(value) is bool) != (type(expected) is bool) or value != expected:
            raise _Refuse(f"HostConfig.{key} must be {expected} for {decision.user} "
                          f"(memory {decision.memory}, cpu {decision.cpu}), not {value!r}")
