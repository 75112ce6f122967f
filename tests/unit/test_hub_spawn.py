"""A user's spawn decision, how DockerSpawner gets it, and preparing the host for it:
folders, ownership, symlink safety."""

from __future__ import annotations

import os

import pytest

from dokku_jupyterhub.hub_runtime import contract, policy, spawn
from dokku_jupyterhub.hub_runtime.spawn_decision import SpawnRefused, decide

ROOT = "/host/data"
IMAGE = "dokku/hub-notebook:latest"
DOC = policy.validate({
    "version": 1,
    "admins": ["alice"],
    "groups": {"lab": {"members_mode": "rw", "members": ["bob"]}},
})


def test_plan_volumes_and_no_swap():
    plan = decide(DOC, "bob", ROOT, IMAGE)
    assert spawn.docker_volumes(plan)[f"{ROOT}/groups/lab"] == {
        "bind": "/home/jovyan/work/groups/lab", "mode": "rw"}
    assert plan.mem_bytes == 350 * 1024**2
    assert spawn.docker_host_config(plan) == {"memswap_limit": plan.mem_bytes,
                                              "auto_remove": False}
    assert plan.groups == ("lab",)
    assert not plan.admin


class _Spawner:
    """The attributes of a DockerSpawner the decision is applied to."""


def test_the_decision_is_all_dockerspawner_gets():
    plan = decide(DOC, "bob", ROOT, IMAGE)
    spawner = _Spawner()
    spawn.apply_to_dockerspawner(spawner, plan, "hub")
    assert vars(spawner) == {
        "image": IMAGE,
        "volumes": spawn.docker_volumes(plan),
        "mem_limit": plan.mem_bytes,
        "cpu_limit": None,
        "extra_host_config": {"memswap_limit": plan.mem_bytes, "auto_remove": False},
        "extra_create_kwargs": {
            "user": "1000:100",
            "labels": {"org.dokku-jupyterhub.app": "hub", "org.dokku-jupyterhub.user": "bob"},
        },
    }


def test_a_user_the_policy_no_longer_names_is_refused_unless_all_are_allowed():
    with pytest.raises(SpawnRefused, match="not allowed on this hub any more"):
        decide(DOC, "mallory", ROOT, IMAGE)
    assert decide(DOC, "mallory", ROOT, IMAGE, allow_all=True).user == "mallory"
    # a group from the login provider's claim lets them in, as a member
    assert decide(DOC, "mallory", ROOT, IMAGE, ("lab",)).groups == ("lab",)


def test_mount_points_are_the_nested_mounts_inside_the_users_folder():
    plan = decide(DOC, "alice", ROOT, IMAGE)
    points = {(outer.host, rel) for outer, rel in plan.mount_points()}
    assert points == {
        (f"{ROOT}/users/alice", "shared"),
        (f"{ROOT}/users/alice", "colab"),
        (f"{ROOT}/users/alice", "groups/lab"),
        (f"{ROOT}/users/alice", "users"),
    }


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x\x00", "x\n"])
def test_plan_refuses_unsafe_names(name):
    with pytest.raises(spawn.SpawnRefused):
        decide(DOC, name, ROOT, IMAGE, allow_all=True)


@pytest.mark.parametrize("path", [f"{ROOT}/../etc", "/elsewhere/users/x", f"{ROOT}/users//x",
                                  f"{ROOT}/users/./x", ROOT])
def test_paths_outside_the_data_root_are_refused(path):
    with pytest.raises(spawn.UnsafePath):
        spawn.relative_to_root(path, ROOT)


def test_ensure_dir_creates_and_hands_over(tmp_path):
    path = spawn.ensure_dir(str(tmp_path), "users/bob")
    assert os.path.isdir(path)
    if os.geteuid() == 0:
        for p in (tmp_path / "users", tmp_path / "users" / "bob"):
            st = os.stat(p)
            assert (st.st_uid, st.st_gid) == (1000, 100)
        assert os.stat(tmp_path).st_uid == 0  # the data root is left alone


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership repair needs root (CI runs as root)")
def test_ensure_dir_repairs_a_root_owned_folder(tmp_path):
    (tmp_path / "shared").mkdir()
    os.chown(tmp_path / "shared", 0, 0)
    spawn.ensure_dir(str(tmp_path), "shared")
    assert os.stat(tmp_path / "shared").st_uid == 1000


def test_symlinked_source_is_refused_and_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tmp_path / "data"
    (data / "users").mkdir(parents=True)
    os.symlink(outside, data / "users" / "bob")  # planted by someone who can write users/
    plan = decide(DOC, "bob", ROOT, IMAGE)
    with pytest.raises(spawn.SpawnRefused, match="symlink"):
        spawn.prepare_host(plan, str(data), ROOT)
    assert os.stat(outside).st_uid == os.geteuid()  # not chowned through the link
    assert list(outside.iterdir()) == []


def test_symlinked_parent_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(outside, data / "groups")
    with pytest.raises(spawn.UnsafePath):
        spawn.ensure_dir(str(data), "groups/lab")
    assert not (outside / "lab").exists()


def test_symlinked_mount_point_in_own_folder_is_skipped_not_fatal(tmp_path):
    data = tmp_path / "data"
    (data / "users" / "bob").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, data / "users" / "bob" / "groups")  # the user's own doing
    plan = decide(DOC, "bob", ROOT, IMAGE)
    made = spawn.prepare_host(plan, str(data), ROOT)
    assert f"{data}/groups/lab" in made
    assert not (outside / "lab").exists()


def test_data_tree(tmp_path):
    spawn.ensure_data_tree(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(contract.DATA_SUBDIRS)


def test_hook_is_shared_not_copied_by_traitlets():
    import copy

    from dokku_jupyterhub.hub_runtime.policy_cache import PolicyCache

    hook = spawn.PreSpawnHook(PolicyCache("/nonexistent/policy.json"), ROOT, "/data", "hub",
                              IMAGE)
    assert copy.deepcopy(hook) is hook


def test_the_reason_a_starting_server_died():
    from dokku_jupyterhub.hub_runtime.docker_spawner import death_reason

    oom = death_reason({"OOMKilled": True, "ExitCode": 137}, "350m")
    assert oom.startswith("out of memory: the server was killed at its memory limit of 350m")
    assert "limits:set" in oom
    assert death_reason({"OOMKilled": False, "ExitCode": 1, "Error": ""}, "350m",
                        "ModuleNotFoundError: No module named 'jupyterhub'") == (
        "the server exited with code 1 (last output: ModuleNotFoundError: No module named "
        "'jupyterhub')")
    assert death_reason({"ExitCode": 127, "Error": "exec format error"}, None) == (
        "the server exited with code 127: exec format error")


def test_a_failed_spawn_is_recorded_for_report(tmp_path):
    import json

    from dokku_jupyterhub.hub_runtime.docker_spawner import record

    path = tmp_path / "last-spawn-failure.json"
    record(str(path), "bob", "out of memory")
    got = json.loads(path.read_text())
    assert (got["user"], got["reason"]) == ("bob", "out of memory")
    assert got["time"].endswith("Z")
    record(str(tmp_path / "missing" / "x.json"), "bob", "r")  # never fails the spawn
