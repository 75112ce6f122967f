"""Which Dokku apps are hub apps: the one reader of the marker property `create` writes first
(contract.HUB_APP_PROPERTY). Triggers fire for every app, and commands refuse other apps, so
each asks here."""

from __future__ import annotations

from dokku_jupyterhub import properties
from dokku_jupyterhub.hub_runtime.contract import DOKKU_APP_RE, HUB_APP_PROPERTY
from dokku_jupyterhub.output import DokkuError


def is_hub_app(app: str | None) -> bool:
    """Whether `app` carries the marker; a name Dokku refuses never does."""
    return bool(DOKKU_APP_RE.match(app or "")) and (
        properties.get(str(app), HUB_APP_PROPERTY) is not None
    )


def require_hub_app(app: str, hint: str = "") -> str:
    """`app` when it is a hub app, else Dokku's one-line error (`hint` appended)."""
    if not is_hub_app(app):
        raise DokkuError(f"{app} is not a jupyterhub app{hint}")
    return app


def all_hub_apps() -> list[str]:
    """Every hub app of this host, sorted."""
    return properties.apps_with(HUB_APP_PROPERTY)
