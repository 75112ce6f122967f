"""The checks of what an admin typed (validate.py), pure."""

from __future__ import annotations

import pytest

from dokku_jupyterhub import properties, validate
from dokku_jupyterhub.hub_runtime.policy import PolicyError
from dokku_jupyterhub.output import DokkuError


@pytest.mark.parametrize("name", ["hub", "a", "hub-2", "0hub", "x" * 50])
def test_valid_app_names(name):
    assert validate.app_name(name) == name


@pytest.mark.parametrize("name", ["", "Hub", "hub_2", "-hub", "hub.x", "hub/x", "x" * 51])
def test_invalid_app_names(name):
    with pytest.raises(DokkuError):
        validate.app_name(name)


def test_app_rule_is_dokkus():
    # plugins/common/common.go IsValidAppName: ^[a-z0-9][a-z0-9.-]*$
    assert validate.DOKKU_APP_RE.pattern == r"^[a-z0-9][a-z0-9.-]*$"


def test_domains_normalise_and_dedupe():
    assert validate.domains(["Hub.Example.EDU.", "hub.example.edu", "b.example.edu"]) == (
        "hub.example.edu", "b.example.edu")


@pytest.mark.parametrize(("typed", "provider", "stored"), [
    ("Alice", "none", "alice"),
    ("alice.smith@school.org", "none", "alice.smith@school.org"),
    ("Alice.Smith@school.org", "azuread", "alice-smith--school-org"),
])
def test_usernames_as_the_hub_sees_them(typed, provider, stored):
    assert validate.usernames([typed], provider) == (stored,)


@pytest.mark.parametrize("ref", [
    "jupyter/scipy-notebook", "quay.io/jupyter/scipy-notebook:2024-05-27",
    "localhost:5000/team/img:v1.2", "dokku/hub-notebook:latest",
    "img@sha256:" + "a" * 64,
])
def test_image_references(ref):
    assert validate.image(ref) == ref


def test_sizes_and_timeouts():
    assert validate.nginx_size("30M") == "30m"
    assert validate.memory("2G") == "2g"
    assert validate.memory("2G", host_memory=2 * 1024**3) == "2g"
    with pytest.raises(PolicyError, match="more than this host has"):
        validate.memory("3g", host_memory=2 * 1024**3)
    assert validate.cpu("1.50") == "1.5"
    assert validate.idle_timeout("3600") == 3600
    with pytest.raises(PolicyError):
        validate.cpu("0")
    assert properties.GLOBAL == "--global"
