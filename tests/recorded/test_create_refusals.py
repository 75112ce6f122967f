"""Bad input is refused with one ` !     ` line and a non-zero exit, and NOTHING changes: no
state-changing Dokku call (for input errors: no Dokku call at all), no file written."""

from __future__ import annotations

import docker
import pytest
from support.clirun import run
from support.recorder import FakeDokku, install_plugins

from dokku_jupyterhub import docker_api, dokku_cli, policy_store
from dokku_jupyterhub.cmds import lifecycle
from dokku_jupyterhub.paths import lib_root, properties_dir


@pytest.fixture
def fake(dokku_env, monkeypatch, engine):
    f = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", f)
    install_plugins(dokku_env, "postgres", monkeypatch=monkeypatch)
    return f




def files_under(root) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file() or p.is_dir())


C = ("jupyterhub:create",)
OK = ("--admin", "alice")
# More memory than this host has (999g on any ordinary host).
ABOVE_HOST = f"{max(999, policy_store.host_memory() // 1024**3 + 1)}g"

# (argv, words of the one error line). Input errors: refused before Dokku is asked anything.
BAD_INPUT = [
    (C + ("Hub",) + OK, "must begin with lowercase"),
    (C + ("-hub",) + OK, "No such option"),
    (C + ("hub_1",) + OK, "may only contain"),
    (C + ("hub.school",) + OK, "no dots"),
    (C + ("h" * 51,) + OK, "at most 50"),
    (C + ("hub", "--domain", "https://hub.example.edu") + OK, "invalid domain"),
    (C + ("hub", "--domain", "hub example.edu") + OK, "invalid domain"),
    (C + ("hub", "--domain", "hub.example.edu/path") + OK, "invalid domain"),
    (C + ("hub", "--domain", "-bad.example.edu") + OK, "invalid domain"),
    (C + ("hub", "--admin", "../root"), "invalid username"),
    (C + ("hub", "--admin", "a/b"), "invalid username"),
    (C + ("hub", "--admin", ".hidden"), "invalid username"),
    (C + ("hub", "--admin", "alice", "--admin", "bad name"), "invalid username"),
    (C + ("hub", "--admin", "x" * 65), "invalid username"),
    (C + ("hub", "--memory", "lots") + OK, "invalid memory"),
    (C + ("hub", "--memory", "1m") + OK, "at least 6m"),
    (C + ("hub", "--memory", ABOVE_HOST) + OK, "more than this host has"),
    (C + ("hub", "--idle-timeout", "5") + OK, "invalid idle timeout"),
    (C + ("hub", "--idle-timeout", "soon") + OK, "invalid idle timeout"),
    (C + ("hub", "--max-body-size", "30 MB") + OK, "invalid max body size"),
    (C + ("hub", "--max-body-size", "0") + OK, "invalid max body size"),
    (C + ("hub", "--letsencrypt-email", "admin") + OK, "invalid email"),
    (C + ("hub", "--notebook-image", "Bad Image") + OK, "invalid notebook image"),
    (C + ("hub", "--notebook-image", "UPPER/case:1") + OK, "invalid notebook image"),
    (C + ("hub", "--unknown") + OK, "No such option"),
    (C, "Missing argument"),
]


@pytest.mark.parametrize(("argv", "words"), BAD_INPUT)
def test_bad_input_is_refused_before_anything(argv, words, fake, capsys):
    code, out, err = run(capsys, *argv)
    assert code != 0
    lines = err.rstrip("\n").splitlines()
    assert len(lines) == 1 and lines[0].startswith(" !     ") and words in lines[0], err
    assert fake.calls == []
    assert files_under(lib_root()) == files_under_plugins_only()


def files_under_plugins_only() -> list[str]:
    """What the fixture made: the enabled-plugins directory."""
    plugins = lib_root() / "plugins"
    return sorted([str(plugins), *(str(p) for p in plugins.rglob("*"))])


def test_state_dependent_refusals_change_nothing(fake, capsys):
    fake.apps.add("blog")  # an app create did not make
    cases = [
        (C + ("blog",) + OK, "did not make"),
        (C + ("hub",), "at least one admin"),
        (C + ("hub", "--letsencrypt-email", "a@example.edu") + OK, "dokku-letsencrypt"),
    ]
    before = files_under(lib_root())
    for argv, words in cases:
        code, _, err = run(capsys, *argv)
        assert code != 0 and words in err and err.count("\n") == 1, err
    assert fake.changes() == []
    assert files_under(lib_root()) == before
    assert not properties_dir().exists()


def test_letsencrypt_needs_a_domain(fake, dokku_env, monkeypatch, capsys):
    install_plugins(dokku_env, "postgres", "letsencrypt", monkeypatch=monkeypatch)
    code, _, err = run(capsys, *C, "hub", "--letsencrypt-email", "a@example.edu", *OK)
    assert code == 1 and "needs a domain" in err
    assert fake.changes() == [] and not properties_dir().exists()


def test_missing_docker_socket_is_refused(fake, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(lifecycle, "DOCKER_SOCKET", tmp_path / "no-docker.sock")
    code, _, err = run(capsys, *C, "hub", *OK)
    assert code == 1 and "Docker socket" in err
    assert fake.calls == [] and not properties_dir().exists()


def test_unreachable_docker_is_refused(fake, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(
        docker_api, "factory",
        lambda: docker.DockerClient(base_url=f"unix://{tmp_path}/nothing.sock", timeout=5),
    )
    code, _, err = run(capsys, *C, "hub", *OK)
    assert code == 1 and "Docker engine unreachable" in err
    assert fake.calls == [] and not properties_dir().exists()


def test_storage_root_that_cannot_hold_directories_is_refused(fake, capsys):
    (lib_root() / "data").write_text("not a directory")
    code, _, err = run(capsys, *C, "hub", *OK)
    assert code == 1 and "is not a directory" in err
    assert fake.calls == [] and not properties_dir().exists()
