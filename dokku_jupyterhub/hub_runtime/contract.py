"""The hub-app contract: every name and default the plugin and the hub agree on, defined here
once. It ships inside the hub image with the rest of this package, so the hub reads the
same definitions the plugin writes.

What makes an app a hub app is the plugin property `HUB_APP_PROPERTY` (a file under
Dokku's config directory, which the shell triggers test for before any Python starts);
`hub_apps.py` is the one place that reads it.
"""

from __future__ import annotations

import re

# ---- hub apps and their names -----------------------------------------------------------

HUB_APP_PROPERTY = "hub-app"
# Dokku's own rule for app names (plugins/common IsValidAppName).
DOKKU_APP_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
# A hub app's name is also a DNS label (`<app>.web`), a dokku-postgres service name
# (`<app>-db`) and a storage directory name: no dots, at most 64 characters.
HUB_APP_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# `create` leaves room for the suffixes below within Docker's and Postgres' name limits.
HUB_APP_CREATE_MAX = 50


def network_name(app: str) -> str:
    """The network the hub and its users' servers share."""
    return f"{app}-network"


def postgres_service_name(app: str) -> str:
    """The dokku-postgres service `create` makes for the hub's database."""
    return f"{app}-db"


def hub_alias(app: str) -> str:
    """The hub's name on its network: Dokku's alias for the app's web process."""
    return f"{app}.web"


def hub_image(app: str, tag: str = "latest") -> str:
    """The image Dokku deploys for the app."""
    return f"dokku/{app}:{tag or 'latest'}"


def notebook_repository(app: str) -> str:
    return f"dokku/{app}-notebook"


def notebook_image(app: str) -> str:
    """The notebook image the plugin builds for the app (unless one is pinned)."""
    return f"{notebook_repository(app)}:latest"


def proxy_container_name(app: str) -> str:
    """The hub's proxy (configurable-http-proxy), a container the plugin runs beside the
    hub, named as dokku-postgres names its services; also its name on the hub's network."""
    return f"dokku.jupyterhub.{app}.proxy"


def gate_container_name(app: str) -> str:
    """The hub's Docker gate, the one container that holds the host's Docker socket."""
    return f"dokku.jupyterhub.{app}.gate"


def container_prefix(app: str) -> str:
    """Users' notebook containers are named `<prefix>-<user>`."""
    return f"{app}-jupyter"


# ---- labels -------------------------------------------------------------------------------

# Dokku's, on the app's images and containers.
LABEL_DOKKU_APP = "com.dokku.app-name"
LABEL_DOKKU_PROCESS = "com.dokku.process-type"
# The plugin's, on every notebook image it builds and every notebook server the spawner
# starts (value: the app). Notebook images never carry LABEL_DOKKU_APP: every Dokku deploy
# prunes the unused images that do (plugins/common/docker.go DockerCleanup).
LABEL_NOTEBOOK_APP = "org.dokku-jupyterhub.app"
LABEL_NOTEBOOK_USER = "org.dokku-jupyterhub.user"
# The plugin's, on the containers it runs beside the hub (value: ROLE_PROXY), which also
# carry LABEL_NOTEBOOK_APP so that removing an app's containers finds them.
LABEL_ROLE = "org.dokku-jupyterhub.role"
ROLE_PROXY = "proxy"
ROLE_GATE = "gate"


def companion_labels(app: str, role: str) -> dict[str, str]:
    """The labels of a container the plugin runs beside the hub. Made from the hub image,
    it would inherit Dokku's app label, and Dokku stops and removes the containers that
    carry it (ps:stop, apps:destroy, cleanups): emptied, no filter of Dokku's matches it."""
    return {LABEL_DOKKU_APP: "", LABEL_NOTEBOOK_APP: app, LABEL_ROLE: role}


# On the hub image (from its Dockerfile): the hub expects the proxy outside its container.
LABEL_PROXY_MODE = "org.dokku-jupyterhub.proxy"
PROXY_EXTERNAL = "external"
# On the hub image: the hub reaches Docker through the gate (its image holds the gate's code).
LABEL_DOCKER_GATE = "org.dokku-jupyterhub.docker-gate"
# On a notebook server: the groups the hub's OAuth claim gave the user (the gate honours
# them only when the hub takes groups from a claim).
LABEL_NOTEBOOK_GROUPS = "org.dokku-jupyterhub.groups"
# The notebook build's, on the images it makes.
LABEL_BUILD_HASH = "org.dokku-jupyterhub.context-hash"
LABEL_BUILD_REVISION = "org.dokku-jupyterhub.revision"
LABEL_BUILT_AT = "org.dokku-jupyterhub.built-at"
# On the throwaway container that reads `images/` out of the hub image.
LABEL_PURPOSE = "org.dokku-jupyterhub.purpose"

# ---- mounts, ports and the data tree ------------------------------------------------------

DATA_MOUNT = "/data"  # the hub's data volume, host side `data_root(app)`
DOCKER_SOCKET = "/var/run/docker.sock"  # mounted into the gate only
# The gate's directory (in the gate and the hub) and the socket it listens on there.
GATE_DIR = "/run/dokku-gate"
GATE_SOCKET = f"{GATE_DIR}/docker.sock"
HUB_PORT = 8000  # the proxy's public port; nginx forwards port 80 here
PROXY_API_PORT = 8001  # the proxy's REST API, which only the hub uses
HUB_API_PORT = 8081  # the hub itself (JupyterHub's default), behind the proxy
# The hub's exclusive lock in its data volume: at most one hub process runs on one data tree.
HUB_LOCK_FILE = "hub.lock"
# Top-level folders of the data volume that notebook servers mount.
DATA_SUBDIRS = ("users", "user-settings", "shared", "colab", "groups")
# The notebook user of the Jupyter docker-stacks images (jovyan:users).
NB_UID = 1000
NB_GID = 100
NOTEBOOK_HOME = "/home/jovyan"
# Files of the hub in the data volume.
POLICY_FILE = "policy.json"
IDENTITIES_FILE = "identities.json"
COOKIE_SECRET_FILE = "jupyterhub_cookie_secret"
SQLITE_FILE = "jupyterhub.sqlite"
VERSION_STAMP_FILE = "jupyterhub-version"
LAST_SPAWN_FAILURE_FILE = "last-spawn-failure.json"  # written by the hub, read by `report`

# ---- the hub's environment (`dokku config`) -----------------------------------------------


class Env:
    """Names of the environment keys the plugin sets and the hub reads."""

    APP = "HUB_APP_NAME"
    NETWORK = "DOCKER_NETWORK_NAME"
    HUB_IP = "HUB_IP"
    NOTEBOOK_IMAGE = "DOCKER_JUPYTER_IMAGE"
    DATA_DIR = "HUB_DATA_DIR"
    HOST_DATA_DIR = "HUB_HOST_DATA_DIR"
    IDLE_TIMEOUT = "HUB_IDLE_TIMEOUT"
    ADMIN_PASSWORD = "HUB_ADMIN_PASSWORD"
    API_TOKEN = "HUB_PLUGIN_API_TOKEN"
    DATABASE_URL = "DATABASE_URL"  # set by dokku-postgres
    AUTH_PROVIDER = "HUB_AUTH_PROVIDER"
    CLIENT_ID = "HUB_OAUTH_CLIENT_ID"
    CLIENT_SECRET = "HUB_OAUTH_CLIENT_SECRET"
    CALLBACK_URL = "HUB_OAUTH_CALLBACK_URL"
    AZURE_TENANT_ID = "HUB_AZURE_TENANT_ID"
    AUTHORIZE_URL = "HUB_OIDC_AUTHORIZE_URL"
    TOKEN_URL = "HUB_OIDC_TOKEN_URL"
    USERDATA_URL = "HUB_OIDC_USERDATA_URL"
    JWKS_URL = "HUB_OIDC_JWKS_URL"
    USERNAME_CLAIM = "HUB_OIDC_USERNAME_CLAIM"
    GROUPS_CLAIM = "HUB_OAUTH_GROUPS_CLAIM"
    ALLOW_ALL = "HUB_ALLOW_ALL"
    # The proxy outside the hub: its name on the network and the token of its API (the
    # variable configurable-http-proxy itself reads).
    PROXY_HOST = "HUB_PROXY_HOST"
    PROXY_TOKEN = "CONFIGPROXY_AUTH_TOKEN"
    # The Docker gate: where the hub reaches it (set by create), where the gate listens.
    DOCKER_GATE = "HUB_DOCKER_GATE"
    GATE_SOCKET = "DOKKU_GATE_SOCKET"


# How a secret is shown, when it is shown at all.
MASK = "********"

# ---- login ---------------------------------------------------------------------------------

OAUTH_PROVIDERS = ("azuread", "github", "generic-oidc")
CLOSED_PROVIDER = "none"  # only the admins, with the generated password
PROVIDERS = (CLOSED_PROVIDER, *OAUTH_PROVIDERS)

# ---- defaults ------------------------------------------------------------------------------

DEFAULT_MEMORY = "350m"  # the policy's default memory, also the floor of "largest wins"
DEFAULT_IDLE_TIMEOUT = 300  # seconds
DEFAULT_MAX_BODY_SIZE = "30m"  # nginx client-max-body-size (Dokku's 1m breaks uploads)

# ---- what the plugin records of a hub app (plugin properties) ------------------------------


class Prop:
    """Keys of the plugin's properties of a hub app (the `set` keys of the same names are
    stored under them too)."""

    AUTH_PROVIDER = "auth-provider"
    DOMAINS = "domains"
    NOTEBOOK_IMAGE = "notebook-image"  # set: a pinned image, builds off
    IDLE_TIMEOUT = "idle-timeout"
    MAX_BODY_SIZE = "max-body-size"
    POSTGRES_SERVICE = "postgres-service"  # the service create made (destroy may offer it)
    DB_KIND = "db-kind"  # postgres | sqlite
    HUB_BASE_IMAGE = "hub-base-image"
    NOTEBOOK_BASE_IMAGE = "notebook-base-image"
    # The loopback address the proxy is published on (port HUB_PORT), which nginx reaches
    # through Dokku's `static-web-listener`: one per hub app on the host.
    PROXY_LISTENER = "proxy-listener"


class BuildRecord:
    STATUS = "last-build-status"  # ok | failed | skipped | running
    TIME = "last-build-time"  # ISO 8601 UTC
    IMAGE_ID = "last-build-image-id"
    HASH = "last-build-hash"
    ERROR = "last-build-error"  # one line, no secrets
    REVISION = "last-build-revision"
    KEYS = (STATUS, TIME, IMAGE_ID, HASH, ERROR, REVISION)
