"""Every policy command through the CLI entry (`dokku_jupyterhub.cli.main`, in process) on a
private DOKKU_LIB_ROOT, including the bad-input table: one ` !     ` line, non-zero exit, and
nothing changed (policy bytes and mtime, group folders)."""

from __future__ import annotations

import io
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from support.dokkuuser import require_dokku_user

from dokku_jupyterhub import cli, datadirs, dokku_cli, hub_rest, policy_store, properties
from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.paths import data_root

APP = "hub"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub(dokku_env, monkeypatch):
    """A hub app: `hub-app` property and data root. No hub container: users:list must say
    the server state is unknown instead of reaching for Docker."""
    properties.set(APP, "hub-app", "true")
    data_root(APP).mkdir(parents=True)

    def not_running(app: str) -> str:
        raise hub_rest.HubUnavailable("the hub is not running")

    monkeypatch.setattr(hub_rest, "locator", not_running)
    return policy_store.policy_path(APP)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    cap = capsys.readouterr()
    return exc.value.code, cap.out, cap.err


def ok(capsys, *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def load(path: Path) -> dict:
    return policy.loads(path.read_text())


# ---- admins -----------------------------------------------------------------------------


def test_admins_add_list_remove(hub, capsys):
    out = ok(capsys, "jupyterhub:admins:add", APP, "Alice", "bob")
    assert "       Alice is written as alice: JupyterHub lowercases usernames\n" in out
    assert "-----> Added alice as an admin\n-----> Added bob as an admin\n" in out
    assert "running servers are not touched" in out
    assert load(hub)["admins"] == ["alice", "bob"]
    assert ok(capsys, "jupyterhub:admins:list", APP) == "=====> hub admins\nalice\nbob\n"
    assert json.loads(ok(capsys, "jupyterhub:admins:list", APP, "--format", "json")) == [
        "alice", "bob"]
    ok(capsys, "jupyterhub:admins:remove", APP, "bob")
    assert load(hub)["admins"] == ["alice"]


def test_adding_an_existing_admin_says_so_and_changes_nothing(hub, capsys):
    ok(capsys, "jupyterhub:admins:add", APP, "alice")
    before, mtime = hub.read_bytes(), hub.stat().st_mtime_ns
    out = ok(capsys, "jupyterhub:admins:add", APP, "alice")
    assert out == "-----> alice is already an admin: nothing to change\n"
    out = ok(capsys, "jupyterhub:admins:remove", APP, "zed")
    assert out == "-----> zed is not an admin: nothing to change\n"
    assert (hub.read_bytes(), hub.stat().st_mtime_ns) == (before, mtime)


def test_removing_the_last_admin_says_how_to_add_one(hub, capsys):
    ok(capsys, "jupyterhub:admins:add", APP, "alice")
    out = ok(capsys, "jupyterhub:admins:remove", APP, "alice")
    assert "hub has no admins left" in out


def test_quiet_lists_print_only_the_data(hub, capsys):
    ok(capsys, "jupyterhub:admins:add", APP, "alice")
    # (dokku_env's monkeypatch restores DOKKU_QUIET_OUTPUT, which --quiet sets)
    assert ok(capsys, "--quiet", "jupyterhub:admins:list", APP) == "alice\n"


def test_app_from_the_global_app_flag(hub, capsys):
    ok(capsys, "--app", APP, "jupyterhub:admins:add", "alice")
    assert load(hub)["admins"] == ["alice"]


def test_azure_ad_principals_become_hub_usernames(hub, capsys):
    properties.set(APP, "auth-provider", "azuread")
    out = ok(capsys, "jupyterhub:admins:add", APP, "Alice.Smith@School.org")
    assert "alice-smith--school-org" in out and "Azure AD username rule" in out
    assert load(hub)["admins"] == ["alice-smith--school-org"]


# ---- groups -----------------------------------------------------------------------------


def test_groups_lifecycle(hub, capsys):
    out = ok(capsys, "jupyterhub:groups:create", APP, "physics", "--members-mode", "rw")
    folder = data_root(APP) / "groups" / "physics"
    assert "-----> Created group physics (members rw)" in out
    assert f"-----> Created folder {folder}" in out
    assert folder.is_dir()
    if os.geteuid() == 0:
        assert (folder.stat().st_uid, folder.stat().st_gid) == (1000, 100)
    else:
        assert "the hub gives it to 1000:100 (the notebook user)" in out
    ok(capsys, "jupyterhub:groups:add-member", APP, "physics", "bob", "Carol")
    assert load(hub)["groups"]["physics"] == {"members_mode": "rw", "members": ["bob", "carol"]}
    out = ok(capsys, "jupyterhub:groups:members", APP, "physics")
    assert out == "=====> hub group physics members (rw)\nbob\ncarol\n"
    assert json.loads(ok(capsys, "jupyterhub:groups:members", APP, "physics", "--format",
                         "json")) == ["bob", "carol"]
    out = ok(capsys, "jupyterhub:groups:list", APP)
    assert out.splitlines()[0] == "=====> hub groups"
    assert out.splitlines()[1].split() == ["GROUP", "MODE", "MEMBERS", "MEMORY", "CPU", "FOLDER"]
    assert out.splitlines()[2].split() == ["physics", "rw", "2", "-", "-", str(folder)]
    listed = json.loads(ok(capsys, "jupyterhub:groups:list", APP, "--format", "json"))
    assert listed == [{"name": "physics", "members_mode": "rw", "members": ["bob", "carol"],
                       "limits": {}, "folder": str(folder)}]
    ok(capsys, "jupyterhub:groups:remove-member", APP, "physics", "bob")
    assert load(hub)["groups"]["physics"]["members"] == ["carol"]


def test_group_create_again_keeps_members_and_files(hub, capsys):
    ok(capsys, "jupyterhub:groups:create", APP, "physics")
    ok(capsys, "jupyterhub:groups:add-member", APP, "physics", "bob")
    (data_root(APP) / "groups" / "physics" / "notes.txt").write_text("keep")
    before = hub.read_bytes()
    out = ok(capsys, "jupyterhub:groups:create", APP, "physics")
    assert "already exists (members ro): nothing to change" in out
    assert "exists; its files are kept" in out
    assert hub.read_bytes() == before
    out = ok(capsys, "jupyterhub:groups:create", APP, "physics", "--members-mode", "rw")
    assert "members mode changed from ro to rw" in out
    assert load(hub)["groups"]["physics"] == {"members_mode": "rw", "members": ["bob"]}


def test_group_destroy_keeps_the_folder_unless_asked(hub, capsys, monkeypatch):
    ok(capsys, "jupyterhub:groups:create", APP, "physics")
    ok(capsys, "jupyterhub:limits:set", APP, "@physics", "--memory", "1G")
    folder = data_root(APP) / "groups" / "physics"
    (folder / "work.ipynb").write_text("{}")
    out = ok(capsys, "jupyterhub:groups:destroy", APP, "physics")
    assert f"Kept folder {folder} and its files" in out
    assert "groups:destroy hub physics --purge-data" in out
    assert (folder / "work.ipynb").read_text() == "{}"
    doc = load(hub)
    assert doc["groups"] == {} and doc["limits"]["groups"] == {}
    # the kept folder can still be purged later, after confirmation
    for answer in ["", "wrong\n"]:
        monkeypatch.setattr("sys.stdin", io.StringIO(answer))
        code, out, err = run(capsys, "jupyterhub:groups:destroy", APP, "physics", "--purge-data")
        assert code == 1
        assert err.splitlines()[-1] == (
            " !     Confirmation did not match; nothing was changed (or pass --force)")
        assert folder.is_dir()
    out = ok(capsys, "jupyterhub:groups:destroy", APP, "physics", "--purge-data", "--force")
    assert f"Deleted folder {folder}" in out
    assert not folder.exists()


def test_group_destroy_purge_asks_for_the_group_name(hub, capsys, monkeypatch):
    ok(capsys, "jupyterhub:groups:create", APP, "physics")
    monkeypatch.setattr("sys.stdin", io.StringIO("physics\n"))
    out = ok(capsys, "jupyterhub:groups:destroy", APP, "physics", "--purge-data")
    assert "Deleted folder" in out
    assert not (data_root(APP) / "groups" / "physics").exists()
    assert load(hub)["groups"] == {}


def test_purge_never_follows_a_symlink(hub, capsys, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("x")
    ok(capsys, "jupyterhub:groups:create", APP, "physics")
    folder = data_root(APP) / "groups" / "physics"
    folder.rmdir()
    folder.symlink_to(outside)
    ok(capsys, "jupyterhub:groups:destroy", APP, "physics", "--purge-data", "--force")
    assert (outside / "precious").read_text() == "x"
    assert not folder.is_symlink()


# ---- limits -----------------------------------------------------------------------------


def test_limits_set_list_unset(hub, capsys):
    ok(capsys, "jupyterhub:groups:create", APP, "physics")
    out = ok(capsys, "jupyterhub:limits:set", APP, "@physics", "--memory", "1G", "--cpu", "1.5")
    assert "-----> Set memory of @physics to 1G\n-----> Set cpu of @physics to 1.5\n" in out
    ok(capsys, "jupyterhub:limits:set", APP, "Bob", "--memory", "2G")
    ok(capsys, "jupyterhub:limits:set", APP, "--default", "--cpu", "1")
    rows = [ln.split() for ln in ok(capsys, "jupyterhub:limits:list", APP).splitlines()[1:]]
    assert rows == [["FOR", "MEMORY", "CPU"], ["--default", "350m", "1"],
                    ["@physics", "1G", "1.5"], ["bob", "2G", "-"]]
    assert json.loads(ok(capsys, "jupyterhub:limits:list", APP, "--format", "json")) == {
        "default": {"memory": "350m", "cpu": 1.0},
        "groups": {"physics": {"memory": "1G", "cpu": 1.5}},
        "users": {"bob": {"memory": "2G"}},
    }
    ok(capsys, "jupyterhub:limits:unset", APP, "@physics", "--cpu")
    ok(capsys, "jupyterhub:limits:unset", APP, "bob")
    ok(capsys, "jupyterhub:limits:unset", APP, "--default")
    assert load(hub)["limits"] == {"default": {"memory": "350m"},
                                   "groups": {"physics": {"memory": "1G"}}, "users": {}}
    out = ok(capsys, "jupyterhub:limits:set", APP, "@physics", "--memory", "1024m")
    assert out == "-----> Memory of @physics is already 1024m: nothing to change\n"


# ---- users ------------------------------------------------------------------------------


def test_users_list_without_a_running_hub_shows_the_policy_and_one_note(hub, capsys):
    ok(capsys, "jupyterhub:admins:add", APP, "alice")
    ok(capsys, "jupyterhub:groups:create", APP, "physics")
    ok(capsys, "jupyterhub:groups:add-member", APP, "physics", "bob")
    ok(capsys, "jupyterhub:limits:set", APP, "@physics", "--memory", "1G")
    ok(capsys, "jupyterhub:users:add", APP, "eve")
    code, out, err = run(capsys, "jupyterhub:users:list", APP)
    assert code == 0
    assert err == " !     Server state unknown: the hub is not running; showing the policy only\n"
    rows = [ln.split() for ln in out.splitlines()]
    assert rows == [["=====>", "hub", "users"],
                    ["USER", "ADMIN", "GROUPS", "MEMORY", "CPU", "SERVER"],
                    ["alice", "yes", "-", "350m", "-", "-"],
                    ["bob", "no", "physics", "1G", "-", "-"],
                    ["eve", "no", "-", "350m", "-", "-"]]
    data = json.loads(ok(capsys, "jupyterhub:users:list", APP, "--format", "json"))
    assert data[1] == {"name": "bob", "admin": False,
                       "groups": [{"name": "physics", "source": "policy"}],
                       "memory": "1G", "cpu": None, "server": None, "in_policy": True}


def test_users_remove_says_who_can_still_log_in(hub, capsys):
    ok(capsys, "jupyterhub:admins:add", APP, "alice")
    ok(capsys, "jupyterhub:users:add", APP, "alice", "eve")
    out = ok(capsys, "jupyterhub:users:remove", APP, "alice", "eve")
    assert "alice can still log in as an admin" in out
    assert "eve can still" not in out
    assert load(hub)["users"] == []


# ---- the bad-input table ----------------------------------------------------------------

HOST_CPUS = policy_store.host_cpus()
HOST_MEM_G = policy_store.host_memory() // 1024**3 + 1

BAD = [
    (["jupyterhub:admins:add", "nohub", "bob"], "nohub is not a jupyterhub app"),
    (["jupyterhub:admins:list", "nohub"], "nohub is not a jupyterhub app"),
    (["jupyterhub:users:list", "nohub"], "nohub is not a jupyterhub app"),
    (["jupyterhub:groups:create", "../hub", "g"], "../hub is not a jupyterhub app"),
    (["jupyterhub:limits:list", "web"], "web is not a jupyterhub app"),
    (["jupyterhub:groups:add-member", APP, "nope", "bob"], "unknown group nope"),
    (["jupyterhub:groups:remove-member", APP, "nope", "bob"], "unknown group nope"),
    (["jupyterhub:groups:members", APP, "nope"], "unknown group nope"),
    (["jupyterhub:groups:destroy", APP, "nope"], "unknown group nope"),
    (["jupyterhub:groups:destroy", APP, "nope", "--purge-data", "--force"], "unknown group"),
    (["jupyterhub:limits:set", APP, "@nope", "--memory", "1G"], "unknown group nope"),
    (["jupyterhub:limits:unset", APP, "@nope"], "unknown group nope"),
    (["jupyterhub:admins:add", APP, "../x"], "invalid username '../x'"),
    (["jupyterhub:admins:add", APP, "good", "a/b"], "invalid username 'a/b'"),
    (["jupyterhub:admins:remove", APP, ".x"], "invalid username '.x'"),
    (["jupyterhub:users:add", APP, "a b"], "invalid username 'a b'"),
    (["jupyterhub:groups:add-member", APP, "physics", "ok", "../../etc"], "invalid username"),
    (["jupyterhub:groups:create", APP, "../g"], "invalid group name '../g'"),
    (["jupyterhub:groups:create", APP, "a/b"], "invalid group name 'a/b'"),
    (["jupyterhub:groups:create", APP, ".g"], "invalid group name '.g'"),
    (["jupyterhub:groups:destroy", APP, "../physics", "--purge-data", "--force"],
     "invalid group name"),
    (["jupyterhub:groups:create", APP, "g", "--members-mode", "rwx"], "--members-mode"),
    (["jupyterhub:limits:set", APP, "bob", "--memory", "-1"], "invalid memory '-1'"),
    (["jupyterhub:limits:set", APP, "bob", "--memory", "10P"], "invalid memory '10P'"),
    (["jupyterhub:limits:set", APP, "--default", "--memory", f"{HOST_MEM_G}G"],
     "more than this host has"),
    (["jupyterhub:limits:set", APP, "bob", "--cpu", "0"], "invalid cpu '0'"),
    (["jupyterhub:limits:set", APP, "bob", "--cpu", str(HOST_CPUS + 1)],
     f"more than this host's {HOST_CPUS} cores"),
    (["jupyterhub:limits:set", APP, "bob", "--memory", "1G", "--cpu", "0"], "invalid cpu"),
    (["jupyterhub:limits:set", APP, "bob"], "give --memory and/or --cpu"),
    (["jupyterhub:limits:set", APP, "--memory", "1G"], "name a user, an @group or --default"),
    (["jupyterhub:limits:set", APP, "bob", "--default", "--memory", "1G"], "not both"),
    (["jupyterhub:limits:set", APP, "../x", "--memory", "1G"], "invalid username"),
    (["jupyterhub:limits:unset", APP, "@../x"], "invalid group name"),
    (["jupyterhub:admins:add", APP], "Missing argument"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_changes_nothing(hub, capsys, argv, message):
    ok(capsys, "jupyterhub:admins:add", APP, "alice")
    ok(capsys, "jupyterhub:groups:create", APP, "physics")
    ok(capsys, "jupyterhub:groups:add-member", APP, "physics", "bob")
    ok(capsys, "jupyterhub:limits:set", APP, "bob", "--memory", "1G")
    before, mtime = hub.read_bytes(), hub.stat().st_mtime_ns
    tree = sorted(str(p.relative_to(data_root(APP))) for p in data_root(APP).rglob("*"))
    code, out, err = run(capsys, *argv)
    assert code != 0
    assert err.startswith(" !     ") and err.count("\n") == 1, err
    assert message in err
    assert out == ""
    assert (hub.read_bytes(), hub.stat().st_mtime_ns) == (before, mtime)
    assert sorted(str(p.relative_to(data_root(APP))) for p in data_root(APP).rglob("*")) == tree


def test_the_api_token_is_fetched_through_dokku_and_never_printed(hub, capsys, monkeypatch):
    """users:list asks Dokku for the token only once the hub is found, and keeps it out of
    every output, even when the hub refuses it."""
    calls = []

    def runner(args, input, stream):
        calls.append(list(args))
        return dokku_cli.Result(0, "s3cret-token\n", "")

    monkeypatch.setattr(dokku_cli, "runner", runner)
    monkeypatch.setattr(hub_rest, "locator", lambda app: "http://127.0.0.1:9")  # discard port
    code, out, err = run(capsys, "jupyterhub:users:list", APP)
    assert code == 0
    assert calls == [["config:get", APP, "HUB_PLUGIN_API_TOKEN"]]
    assert "not reachable" in err
    assert "s3cret" not in out + err


# ---- as the dokku user, after the hub took groups/ over -----------------------------------


def _as_dokku(lib: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["setpriv", "--reuid=dokku", "--regid=dokku", "--init-groups", "--",
         sys.executable, "-m", "dokku_jupyterhub", *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DOKKU_LIB_ROOT": str(lib),
             "DOKKU_ROOT": str(lib.parent / "home")},
    )


@pytest.fixture
def dokku_user_host():
    """A DOKKU_LIB_ROOT the dokku user can reach, with a hub app whose data root is the
    dokku user's and whose groups/ the hub gave to the notebook user (1000:100) at start."""
    require_dokku_user()
    dokku = pwd.getpwnam("dokku")
    app = f"djh-policy-{uuid.uuid4().hex[:8]}"  # its own image tag: no clash with other tests
    top = Path(tempfile.mkdtemp(prefix="djh-policy-", dir="/tmp"))
    top.chmod(0o755)
    lib = top / "lib"
    props = lib / "config" / "jupyterhub" / app
    data = lib / "data" / "storage" / app / "data"
    props.mkdir(parents=True)
    (data / "groups").mkdir(parents=True)
    (props / "hub-app").write_text("true")
    for d in [lib, *lib.rglob("*")]:
        os.chown(d, dokku.pw_uid, dokku.pw_gid)
    os.chown(data / "groups", 1000, 100)
    yield lib, data, app
    shutil.rmtree(top)


def test_group_folders_as_the_dokku_user_go_through_the_hub_image(
    engine, bookworm_image, dokku_user_host
):
    lib, data, app = dokku_user_host
    image = f"dokku/{app}:latest"
    engine.images.get(bookworm_image).tag(f"dokku/{app}", "latest")
    try:
        r = _as_dokku(lib, "jupyterhub:groups:create", app, "physics")
        assert r.returncode == 0, r.stderr
        folder = data / "groups" / "physics"
        assert f"Created folder {folder} (owner 1000:100)" in r.stdout
        assert (folder.stat().st_uid, folder.stat().st_gid) == (1000, 100)
        # a notebook wrote there; the dokku user alone could not delete it
        (folder / "sub").mkdir()
        (folder / "sub" / "work.ipynb").write_text("{}")
        for p in (folder / "sub", folder / "sub" / "work.ipynb"):
            os.chown(p, 1000, 100)
        r = _as_dokku(lib, "jupyterhub:groups:destroy", app, "physics", "--purge-data",
                      "--force")
        assert r.returncode == 0, r.stderr
        assert f"Deleted folder {folder}" in r.stdout
        assert not folder.exists()
        assert (data / "groups").is_dir()
    finally:
        engine.images.remove(image, noprune=True)
    # Not deployed yet (no image): the group is still created; the hub makes the folder.
    r = _as_dokku(lib, "jupyterhub:groups:create", app, "chem")
    assert r.returncode == 0, r.stderr
    assert "the hub creates it at the next server start" in r.stdout
    assert "chem" in json.loads((data / "policy.json").read_text())["groups"]
    assert not (data / "groups" / "chem").exists()


@pytest.fixture
def full_data_root(hub):
    """The hub's data root on a tiny tmpfs filled to the last byte (mounting needs root)."""
    root = hub.parent
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("needs root to mount a full filesystem")
        pytest.skip("needs root to mount a full filesystem")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(root)], check=True)
    try:
        datadirs.ensure(APP)  # the data tree create makes, then not a byte left
        fd = os.open(root / "fill", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            with pytest.raises(OSError, match="No space left"):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=True)


def tree(root: Path) -> list[str]:
    """Everything under `root` but the policy store's lock file."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".policy.lock")


def test_a_full_disk_is_one_clear_line_and_leaves_nothing_half_made(full_data_root, capsys):
    before = tree(full_data_root)
    code, out, err = run(capsys, "jupyterhub:groups:create", APP, "physics")
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith(f" !     no space left on {full_data_root}: policy.json was not changed")
    # the folder made for the group went again with the failed write: nothing half-made
    assert tree(full_data_root) == before
    code, out, err = run(capsys, "jupyterhub:admins:add", APP, "alice")
    assert code == 1 and err.startswith(" !     no space left on ")
