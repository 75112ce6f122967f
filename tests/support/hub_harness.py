"""A real JupyterHub loaded with the rendered hub source, without Docker or a network.

`RenderedHub` renders the plugin's hub app into a temporary folder, sets the environment the
plugin would set with `dokku config`, and initializes a real `jupyterhub.app.JupyterHub`
from the rendered `jupyterhub_config.py` (sqlite in the temporary data folder). Its users'
spawners are real DockerSpawners; the pre-spawn hook runs for real (folders are created on
disk); nothing is asked of a Docker engine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from dokku_jupyterhub import hub_source

HOST_ROOT = "/var/lib/dokku/data/storage/hub/data"
ADMIN_PASSWORD = "correct-horse-battery-staple-0123456789"
API_TOKEN = "0123456789abcdef0123456789abcdef"


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "HUB_APP_NAME": "hub",
        "DOCKER_NETWORK_NAME": "hub-network",
        "HUB_IP": "hub.web",
        "DOCKER_JUPYTER_IMAGE": "dokku/hub-notebook:latest",
        "HUB_DATA_DIR": str(data_dir),
        "HUB_HOST_DATA_DIR": HOST_ROOT,
        "HUB_IDLE_TIMEOUT": "300",
        "HUB_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "HUB_PLUGIN_API_TOKEN": API_TOKEN,
    }
    env.update(extra)
    return env


ENV_KEYS = (
    "HUB_APP_NAME", "DOCKER_NETWORK_NAME", "HUB_IP", "DOCKER_JUPYTER_IMAGE", "HUB_DATA_DIR",
    "HUB_HOST_DATA_DIR", "HUB_IDLE_TIMEOUT", "HUB_AUTH_PROVIDER", "HUB_OAUTH_CLIENT_ID",
    "HUB_OAUTH_CLIENT_SECRET", "HUB_OAUTH_CALLBACK_URL", "HUB_AZURE_TENANT_ID",
    "HUB_OIDC_AUTHORIZE_URL", "HUB_OIDC_TOKEN_URL", "HUB_OIDC_USERDATA_URL",
    "HUB_OIDC_USERNAME_CLAIM", "HUB_OIDC_JWKS_URL", "HUB_OAUTH_GROUPS_CLAIM", "HUB_ALLOW_ALL",
    "HUB_ADMIN_PASSWORD",
    "HUB_PLUGIN_API_TOKEN", "DATABASE_URL",
)


def write_policy(data_dir: Path, doc: dict[str, Any]) -> None:
    """As the plugin does: a new file replaced atomically (new inode)."""
    tmp = data_dir / ".policy.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, data_dir / "policy.json")


class LogRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


class RenderedHub:
    def __init__(self, tmp_path: Path, monkeypatch: Any, **env: str) -> None:
        self.src = tmp_path / "src"
        self.data = tmp_path / "data"
        self.data.mkdir()
        hub_source.write_dir(hub_source.render_files(hub_source.HubParams(app="hub")), self.src)
        for key in ENV_KEYS:
            monkeypatch.delenv(key, raising=False)
        for key, value in base_env(self.data, **env).items():
            monkeypatch.setenv(key, value)
        self.config_file = str(self.src / "jupyterhub_config.py")
        self.log = LogRecorder()
        self.app: Any = None

    def start(self) -> Any:
        """Initialize (not start) the hub: config, database, roles, services, spawners."""
        from jupyterhub.app import JupyterHub

        self.app = JupyterHub(config_file=self.config_file)
        asyncio.run(self.app.initialize([]))
        # After initialize: JupyterHub sets up its logger's handlers there.
        logging.getLogger("JupyterHub").addHandler(self.log)
        return self.app

    def close(self) -> None:
        logging.getLogger("JupyterHub").removeHandler(self.log)
        if self.app is not None:
            self.app.db.close()

    def user(self, name: str, groups: tuple[str, ...] = ()) -> Any:
        from jupyterhub import orm

        db = self.app.db
        orm_user = orm.User.find(db, name)
        if orm_user is None:
            orm_user = orm.User(name=name)
            db.add(orm_user)
            db.commit()
        if groups:
            orm_user.groups = [orm.Group.find(db, g) or orm.Group(name=g) for g in groups]
            db.commit()
        return self.app.users[orm_user]

    def spawn_hook(self, name: str, groups: tuple[str, ...] = ()) -> Any:
        """Run the configured pre-spawn hook on the user's real DockerSpawner."""
        spawner = self.user(name, groups).spawner
        spawner.run_pre_spawn_hook()
        return spawner

    def authenticator(self) -> Any:
        return self.app.authenticator
