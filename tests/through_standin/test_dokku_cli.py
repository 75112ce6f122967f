"""The one seam to Dokku (dokku_jupyterhub.dokku_cli), alone with a recorder and against the
Dokku stand-in (tests/standin), whose fakes behave as Dokku's commands do."""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest
from standin.standin import Standin

from dokku_jupyterhub import dokku_cli
from dokku_jupyterhub.output import DokkuError

SECRET = "s3cr3t-Value-that-must-not-leak"


# A new app's config on a host without a global domain (Dokku: no vhosts).
NEW_APP = {"NO_VHOST": "1"}

@pytest.fixture
def standin(monkeypatch):
    host = Standin.create()
    host.apply_env(monkeypatch)
    yield host
    host.destroy()


@pytest.fixture
def recorder(monkeypatch):
    calls = []

    def fake(args, input, stream):
        calls.append((list(args), input, stream))
        # Echo everything, as a careless command would.
        return dokku_cli.Result(1, "partial output\n", " !     bad: " + " ".join(args) + "\n")

    monkeypatch.setattr(dokku_cli, "runner", fake)
    return calls


def test_dokku_bin_prefers_the_environment(monkeypatch):
    monkeypatch.setenv("DOKKU_BIN", "/opt/x/dokku")
    assert dokku_cli.dokku_bin() == "/opt/x/dokku"


def test_run_passes_args_input_and_stream(recorder):
    result = dokku_cli.run("git:from-archive", "hub", "--", input=b"tar", check=False, stream=True)
    assert recorder == [(["git:from-archive", "hub", "--"], b"tar", True)]
    assert (result.ok, result.returncode) == (False, 1)


@pytest.mark.parametrize(
    "args",
    [
        ("config:set", "--no-restart", "hub", f"HUB_OAUTH_CLIENT_SECRET={SECRET}"),
        ("config:set", "hub", "A=1", f"B={SECRET}"),
        ("postgres:create", "svc", "--password", SECRET),
        ("postgres:create", "svc", f"--root-password={SECRET}"),
        ("postgres:create", "svc", "--token", SECRET),
    ],
)
def test_error_text_never_contains_secret_arguments(recorder, args):
    with pytest.raises(DokkuError) as exc:
        dokku_cli.run(*args)
    message = exc.value.message
    assert SECRET not in message
    assert message.startswith(f"dokku {args[0]} failed (exit 1): bad: ")
    assert "***" in message


def test_error_without_output_names_the_command_only(monkeypatch):
    monkeypatch.setattr(dokku_cli, "runner", lambda a, i, s: dokku_cli.Result(3, "", ""))
    with pytest.raises(DokkuError) as exc:
        dokku_cli.run("ps:rebuild", "hub")
    assert exc.value.message == "dokku ps:rebuild failed (exit 3)"
    assert exc.value.exit_code == 1


# --- against the stand-in ---------------------------------------------------------------------


def test_a_failing_command_reports_dokkus_last_line(standin):
    with pytest.raises(DokkuError) as exc:
        dokku_cli.run("config:set", "--no-restart", "ghost", f"K={SECRET}")
    assert exc.value.message == "dokku config:set failed (exit 1): App ghost does not exist"


def test_runs_as_the_dokku_user_and_is_recorded(standin):
    dokku_cli.run("apps:create", "hub")
    dokku_cli.run("config:set", "--no-restart", "hub", f"HUB_OAUTH_CLIENT_SECRET={SECRET}")
    assert standin.state.config("hub") == {"HUB_OAUTH_CLIENT_SECRET": SECRET, **NEW_APP}
    calls = standin.calls("config:set")
    assert [c["argv"] for c in calls] == [
        ["config:set", "--no-restart", "hub", f"HUB_OAUTH_CLIENT_SECRET={SECRET}"]
    ]
    assert calls[0]["user"] == "dokku"


def test_outer_app_name_does_not_leak_into_nested_calls(standin, monkeypatch):
    """`dokku --app hub jupyterhub:x` exports DOKKU_APP_NAME; Dokku puts it in front of a core
    command's arguments, so a nested call that inherited it would get the app twice."""
    standin.run("apps:create", "hub", check=True)
    monkeypatch.setenv("DOKKU_APP_NAME", "hub")
    raw = subprocess.run([str(standin.dokku), "config:set", "--no-restart", "hub", "A=1"],
                         capture_output=True, text=True)
    assert raw.returncode == 1 and "Invalid env pair: hub" in raw.stderr  # what the seam avoids
    dokku_cli.run("config:set", "--no-restart", "hub", "A=1")
    assert standin.state.config("hub") == {"A": "1", **NEW_APP}


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(f"hub/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_outer_global_flags_do_not_hide_no_restart(standin, monkeypatch):
    """dokku-postgres reads --no-restart from DOKKU_GLOBAL_FLAGS, which a nested `dokku` only
    computes when it is unset: an inherited value would make postgres:link restart the hub."""
    standin.enable("postgres")
    standin.run("apps:create", "hub", check=True)
    proc = subprocess.run([str(standin.dokku), "git:from-archive", "hub", "--"],
                          input=_tar({"Dockerfile": b"FROM scratch\n"}), capture_output=True,
                          env=standin.env())
    assert proc.returncode == 0, proc.stderr
    assert len(standin.state.deploys("hub")) == 1
    standin.run("postgres:create", "db", check=True)
    monkeypatch.setenv("DOKKU_GLOBAL_FLAGS", "--domain --admin")  # from `jupyterhub:create ...`
    dokku_cli.run("postgres:link", "db", "hub", "--no-restart")
    assert standin.state.config("hub")["DATABASE_URL"].startswith("postgres://postgres:")
    assert standin.state.postgres_links("db") == ["hub"]
    assert len(standin.state.deploys("hub")) == 1  # linked without a restart


# --- the stand-in's fakes behave as Dokku's commands ------------------------------------------


def test_git_from_archive_identical_content_fails_like_dokku(standin):
    standin.run("apps:create", "hub", check=True)
    tar = _tar({"Dockerfile": b"FROM scratch\n", "images/a.txt": b"a"})
    first = subprocess.run([str(standin.dokku), "git:from-archive", "hub", "--"], input=tar,
                           capture_output=True, env=standin.env())
    assert first.returncode == 0
    assert sorted(standin.state.git_files("hub")) == ["Dockerfile", "images/a.txt"]
    again = subprocess.run([str(standin.dokku), "git:from-archive", "hub", "--"], input=tar,
                           capture_output=True, env=standin.env())
    # Dokku's git-from-directory trigger returns 1 here, not 0.
    assert again.returncode == 1
    assert b" !     No changes detected, skipping git commit" in again.stderr
    assert len(standin.state.deploys("hub")) == 1
    assert standin.state.deployed("hub")


def test_injected_failure_happens_once_and_changes_nothing(standin, monkeypatch):
    standin.run("apps:create", "hub", check=True)
    monkeypatch.setenv("STANDIN_FAIL", "config:set")
    with pytest.raises(DokkuError) as exc:
        dokku_cli.run("config:set", "--no-restart", "hub", "A=1")
    assert "injected" in exc.value.message
    assert standin.state.config("hub") == NEW_APP
    dokku_cli.run("config:set", "--no-restart", "hub", "A=1")
    assert standin.state.config("hub") == {"A": "1", **NEW_APP}


def test_storage_both_forms(standin):
    standin.run("apps:create", "hub", check=True)
    data = standin.lib_root / "data/storage/hub-data"
    refused = standin.run("storage:mount", "hub", "hub-data", "--container-dir", "/data")
    assert refused.returncode == 1
    assert 'storage entry "hub-data" does not exist' in refused.stderr
    standin.run("storage:create", "hub-data", check=True)
    assert data.is_dir()
    standin.run("storage:mount", "hub", "hub-data", "--container-dir", "/data", check=True)
    standin.run("storage:mount", "hub", "/var/run/docker.sock:/var/run/docker.sock", check=True)
    again = standin.run("storage:mount", "hub", "/var/run/docker.sock:/var/run/docker.sock")
    assert (again.returncode, again.stderr) == (1, " !     Mount path already exists.\n")
    assert standin.state.mounts("hub") == [
        f"{data}:/data", "/var/run/docker.sock:/var/run/docker.sock"]


def test_unknown_app_and_refused_syntax(standin):
    proc = standin.run("ports:set", "ghost", "http:80:8000")
    assert (proc.returncode, proc.stderr) == (1, " !     App ghost does not exist\n")
    standin.run("apps:create", "hub", check=True)
    proc = standin.run("ports:set", "hub", "80:8000")
    assert proc.returncode == 1
    # The pre-0.31 way is accepted and does nothing to the port map.
    standin.run("config:set", "--no-restart", "hub", "DOKKU_PROXY_PORT_MAP=http:80:8000",
                check=True)
    assert standin.state.ports("hub") == []
    standin.run("ports:set", "hub", "http:80:8000", check=True)
    assert standin.state.ports("hub") == ["http:80:8000"]


def test_nested_config_set_is_never_traced(monkeypatch):
    """Dokku's --trace is `set -x`: a nested `config:set` would print the secrets it sets."""
    monkeypatch.setenv("DOKKU_TRACE", "1")
    assert "DOKKU_TRACE" not in dokku_cli.child_env(["config:set", "--no-restart", "hub", "K=v"])
    assert dokku_cli.child_env(["ps:restart", "hub"])["DOKKU_TRACE"] == "1"
    # Dokku's global flags before the command do not hide it.
    assert "DOKKU_TRACE" not in dokku_cli.child_env(["--quiet", "config:set", "hub", "K=v"])


def test_a_traced_admin_never_sees_a_secret_from_a_nested_config_set(standin, monkeypatch):
    """`dokku --trace jupyterhub:auth:set ...` runs `dokku --quiet config:set ...` with the
    client secret: Dokku's `set -x` must be off for it."""
    standin.run("apps:create", "hub", check=True)
    monkeypatch.setenv("DOKKU_TRACE", "1")
    monkeypatch.setattr(dokku_cli, "runner", dokku_cli._subprocess_runner)
    secret = "s3cr3t-" + "x" * 20
    result = dokku_cli.run("--quiet", "config:set", "--no-restart", "hub",
                           f"HUB_OAUTH_CLIENT_SECRET={secret}")
    assert result.ok
    assert secret not in result.stdout + result.stderr
    assert standin.state.config_get("hub", "HUB_OAUTH_CLIENT_SECRET") == secret


def test_docker_unreachable_after_version_negotiation_is_one_clear_error(monkeypatch):
    """A client built with a fixed API version reaches the engine only at ping: requests'
    ConnectionError must still become the DokkuError that says what to fix."""
    import docker

    from dokku_jupyterhub import docker_api

    monkeypatch.setattr(
        docker_api, "factory",
        lambda: docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41"),
    )
    with pytest.raises(DokkuError, match="Docker engine unreachable"):
        docker_api.client()
