"""The hub's environment -> settings, and the database URL mapping."""

from __future__ import annotations

import re

import pytest

from dokku_jupyterhub.hub_runtime import settings

BASE = {"HUB_APP_NAME": "hub", "HUB_HOST_DATA_DIR": "/var/lib/dokku/data/storage/hub/data"}


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        (None, "sqlite:////data/jupyterhub.sqlite"),
        ("", "sqlite:////data/jupyterhub.sqlite"),
        ("   ", "sqlite:////data/jupyterhub.sqlite"),
        ("postgres://u:p@dokku-postgres-hub:5432/hub", "postgresql+psycopg://u:p@dokku-postgres-hub:5432/hub"),
        ("postgresql://u:p@db/hub", "postgresql+psycopg://u:p@db/hub"),
        ("postgresql+psycopg://u:p@db/hub", "postgresql+psycopg://u:p@db/hub"),
        ("postgresql+psycopg2://u:p@db/hub", "postgresql+psycopg2://u:p@db/hub"),
        ("sqlite:////elsewhere/hub.sqlite", "sqlite:////elsewhere/hub.sqlite"),
    ],
)
def test_database_url_mapping(database_url, expected):
    env = {} if database_url is None else {"DATABASE_URL": database_url}
    assert settings.db_url(env) == expected
    # Idempotent: the mapped URL maps to itself (a re-link or a copy never breaks it).
    assert settings.db_url({"DATABASE_URL": expected}) == expected


def test_defaults_follow_the_app_name():
    s = settings.from_env(BASE)
    assert (s.app, s.network, s.hub_ip, s.notebook_image) == (
        "hub", "hub-network", "hub.web", "dokku/hub-notebook:latest"
    )
    assert s.data_dir == "/data"
    assert s.idle_timeout == 300
    assert s.auth_provider == "none"
    assert s.allow_all is False
    assert s.policy_file == "/data/policy.json"
    assert s.cookie_secret_file == "/data/jupyterhub_cookie_secret"
    assert s.container_prefix == "hub-jupyter"
    assert s.notebook_pull_policy == "never"
    pinned = settings.from_env(dict(BASE, DOCKER_JUPYTER_IMAGE="quay.io/jupyter/scipy-notebook:x"))
    assert pinned.notebook_pull_policy == "ifnotpresent"


def test_values_from_the_environment():
    s = settings.from_env(dict(
        BASE, DOCKER_NETWORK_NAME="net", HUB_IP="h.web", DOCKER_JUPYTER_IMAGE="img:1",
        HUB_DATA_DIR="/srv/data/", HUB_IDLE_TIMEOUT="900", HUB_ALLOW_ALL="TRUE",
        DATABASE_URL="postgres://x@y/z",
    ))
    assert (s.network, s.hub_ip, s.notebook_image) == ("net", "h.web", "img:1")
    assert s.data_dir == "/srv/data"
    assert s.idle_timeout == 900
    assert s.allow_all is True
    assert s.db_url == "postgresql+psycopg://x@y/z"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_HOST_DATA_DIR": ""}, "HUB_HOST_DATA_DIR is not set"),
        ({"HUB_HOST_DATA_DIR": "relative/path"}, "must be an absolute path"),
        ({"HUB_HOST_DATA_DIR": "/a/../b"}, "must be an absolute path"),
        ({"HUB_DATA_DIR": "/da:ta"}, "HUB_DATA_DIR must be an absolute path"),
        ({"HUB_IDLE_TIMEOUT": "5m"}, "whole seconds"),
        ({"HUB_IDLE_TIMEOUT": "-1"}, "whole seconds"),
        ({"HUB_APP_NAME": "Bad_App"}, "HUB_APP_NAME"),
        ({"HUB_AUTH_PROVIDER": "ldap"}, "must be one of none, azuread, github, generic-oidc"),
        ({"HUB_AUTH_PROVIDER": "github", "HUB_OAUTH_CLIENT_ID": "x"},
         "needs HUB_OAUTH_CLIENT_SECRET"),
        ({"HUB_AUTH_PROVIDER": "generic-oidc", "HUB_OAUTH_CLIENT_ID": "x",
          "HUB_OAUTH_CLIENT_SECRET": "y"},
         "needs HUB_OIDC_AUTHORIZE_URL, HUB_OIDC_TOKEN_URL, HUB_OIDC_USERDATA_URL"),
        ({"HUB_OIDC_TOKEN_URL": "ftp://x/token"}, "must be an http(s) URL"),
        ({"HUB_OIDC_JWKS_URL": "file:///etc/keys.json"}, "HUB_OIDC_JWKS_URL must be an http(s)"),
        ({"HUB_OAUTH_GROUPS_CLAIM": "gro ups"}, "claim name"),
        ({"HUB_ALLOW_ALL": "1"}, "true or false"),
        ({"HUB_ADMIN_PASSWORD": "x" * 31}, "at least 32 characters"),
        ({"HUB_PLUGIN_API_TOKEN": "short"}, "at least 8"),
        ({"HUB_IP": "a\nb"}, "single line"),
    ],
)
def test_bad_environment_is_refused_naming_the_variable(env, message):
    with pytest.raises(settings.SettingsError, match=re.escape(message)):
        settings.from_env(dict(BASE, **env))


def test_admin_password_of_32_characters_is_accepted():
    assert settings.from_env(dict(BASE, HUB_ADMIN_PASSWORD="x" * 32)).admin_password == "x" * 32


def test_azure_jwks_url_is_optional_and_read_when_given():
    azure = dict(BASE, HUB_AUTH_PROVIDER="azuread", HUB_OAUTH_CLIENT_ID="c",
                 HUB_OAUTH_CLIENT_SECRET="s", HUB_AZURE_TENANT_ID="contoso.onmicrosoft.com")
    assert settings.from_env(azure).jwks_url == ""
    keys = "https://login.microsoftonline.us/contoso.onmicrosoft.com/discovery/v2.0/keys"
    assert settings.from_env(dict(azure, HUB_OIDC_JWKS_URL=f" {keys} ")).jwks_url == keys
