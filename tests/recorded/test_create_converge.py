"""An interrupted `create` is finished by running it again: for every step (Dokku commands
and local effects alike) a failure there, then a rerun, ends in exactly the state of an
uninterrupted run, with no duplicate mount, domain or service, secrets generated once, and
the users' data untouched."""

from __future__ import annotations

import json

import pytest
from support.recorder import FakeDokku, install_plugins

from dokku_jupyterhub import cli, create_steps, dokku_cli, properties
from dokku_jupyterhub.output import DokkuError
from dokku_jupyterhub.paths import data_root, lib_root

ARGS = ("jupyterhub:create", "hub", "--domain", "hub.example.edu", "--admin", "alice",
        "--letsencrypt-email", "admin@example.edu")
SECRETS = ("HUB_ADMIN_PASSWORD", "HUB_PLUGIN_API_TOKEN", "CONFIGPROXY_AUTH_TOKEN")


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    return int(exc.value.code or 0)


def snapshot(fake: FakeDokku) -> dict:
    """Everything create leaves behind, with secrets reduced to "present"."""
    config = {app: {k: ("<set>" if k in SECRETS else v) for k, v in env.items()}
              for app, env in fake.config.items()}
    tree = sorted(str(p.relative_to(lib_root())) for p in (lib_root() / "data").rglob("*"))
    policy = data_root("hub") / "policy.json"
    return {
        "apps": sorted(fake.apps), "config": config, "mounts": fake.mounts,
        "domains": fake.domains, "ports": fake.ports, "networks": sorted(fake.networks),
        "network": fake.network_props, "nginx": fake.nginx, "services": sorted(fake.services),
        "links": {k: sorted(v) for k, v in fake.links.items()}, "le": fake.le_email,
        "le_active": sorted(fake.le_active), "deployed": sorted(fake.deployed),
        "source": sorted(fake.source), "properties": properties.all_for("hub"),
        "checks": fake.checks_disabled,
        "policy": json.loads(policy.read_text()) if policy.exists() else None,
        "tree": tree,
    }


@pytest.fixture
def setup(dokku_env, monkeypatch, engine):
    def make() -> FakeDokku:
        fake = FakeDokku()
        monkeypatch.setattr(dokku_cli, "runner", fake)
        install_plugins(dokku_env, "postgres", "letsencrypt", monkeypatch=monkeypatch)
        return fake

    return make


@pytest.fixture(scope="module")
def reference(tmp_path_factory, engine):
    """The (normalised) state and the steps of an uninterrupted run."""
    mp = pytest.MonkeyPatch()
    lib = tmp_path_factory.mktemp("ref") / "lib"
    lib.mkdir()
    mp.setenv("DOKKU_LIB_ROOT", str(lib))
    mp.setenv("DOKKU_ROOT", str(lib.parent / "home"))
    fake = FakeDokku()
    mp.setattr(dokku_cli, "runner", fake)
    install_plugins(lib, "postgres", "letsencrypt", monkeypatch=mp)
    steps: list[str] = []

    def recording(app, step):
        steps.append(step.what.replace(str(lib), "<lib>"))
        return REAL_RUN_STEP(app, step)

    mp.setattr(create_steps, "run_step", recording)
    try:
        assert run(*ARGS) == 0
        return normalise(snapshot(fake)), steps
    finally:
        mp.undo()


REAL_RUN_STEP = create_steps.run_step


def normalise(snap: dict) -> dict:
    """Paths differ between roots: make them relative to DOKKU_LIB_ROOT."""
    return json.loads(json.dumps(snap, sort_keys=True).replace(str(lib_root()), "<lib>"))


def test_reference_run_has_every_step(reference):
    _, steps = reference
    assert len(steps) == STEPS  # keep the parametrisation below exact
    assert len(set(steps)) == len(steps)  # step names identify the step in the tests below


def _interrupt_at(n: int, monkeypatch) -> None:
    """Make the n-th step (0-based) fail before it does anything."""
    count = {"i": 0}

    def flaky(app, step):
        i = count["i"]
        count["i"] += 1
        if i == n:
            raise DokkuError("injected failure")
        return REAL_RUN_STEP(app, step)

    monkeypatch.setattr(create_steps, "run_step", flaky)


STEPS = 27  # steps of a full create (Dokku commands and local effects)
DOKKU_CHANGES = 17  # of which state-changing Dokku commands


@pytest.mark.parametrize("n", range(STEPS))
def test_interrupted_at_any_step_then_rerun_converges(n, setup, reference, monkeypatch,
                                                      capsys):
    want, steps = reference
    fake = setup()
    _interrupt_at(n, monkeypatch)
    assert run(*ARGS) == 1
    err = capsys.readouterr().err.replace(str(lib_root()), "<lib>")
    assert f"{steps[n]} failed: injected failure" in err
    assert "run `dokku jupyterhub:create hub` again" in err
    secrets = {k: fake.config.get("hub", {}).get(k) for k in SECRETS}
    work = data_root("hub") / "users" / "alice"
    if work.parent.is_dir():  # a user's work, written between the two runs
        work.mkdir()
        (work / "notebook.ipynb").write_text("{}")

    monkeypatch.setattr(create_steps, "run_step", REAL_RUN_STEP)
    assert run(*ARGS) == 0, capsys.readouterr().err
    got = normalise(snapshot(fake))
    got["tree"] = [t for t in got["tree"] if "users/alice" not in t]
    assert got == want
    for key, value in secrets.items():
        if value:  # generated before the interruption: kept
            assert fake.config["hub"][key] == value
    if work.is_dir():
        assert (work / "notebook.ipynb").read_text() == "{}"


@pytest.mark.parametrize("n", range(1, DOKKU_CHANGES + 1))
def test_dokku_refusing_a_step_then_rerun_converges(n, setup, reference, capsys):
    fake = setup()
    fake.fail_at(n)
    assert run(*ARGS) == 1
    assert fake.fail_change is None  # the n-th change was refused
    assert "injected failure" in capsys.readouterr().err
    assert run(*ARGS) == 0
    assert normalise(snapshot(fake)) == reference[0]
    fake.calls.clear()
    assert run(*ARGS) == 0
    assert fake.changes() == []
