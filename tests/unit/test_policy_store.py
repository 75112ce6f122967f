"""The policy store: concurrent writers through the real CLI entry all persist; a corrupt
file is reported and never overwritten; a failed write leaves the previous file intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dokku_jupyterhub import hub_apps, policy_ops, policy_store, properties
from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.hub_runtime.policy import PolicyError
from dokku_jupyterhub.output import DokkuError

ROOT = Path(__file__).resolve().parents[2]
APP = "hub"


@pytest.fixture
def hub(dokku_env):
    properties.set(APP, "hub-app", "true")
    policy_store.policy_path(APP).parent.mkdir(parents=True)
    return policy_store.policy_path(APP)


def cli(*argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dokku_jupyterhub", *argv],
        cwd=ROOT,
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_parallel_add_member_through_the_cli_all_persist(hub):
    rc, _, err = finish(cli("jupyterhub:groups:create", APP, "physics"))
    assert rc == 0, err
    users = [f"student{i:02d}" for i in range(16)]
    procs = [cli("jupyterhub:groups:add-member", APP, "physics", u) for u in users]
    # Admin changes race with the member changes on the same file.
    procs += [cli("jupyterhub:admins:add", APP, f"teacher{i}") for i in range(4)]
    results = [finish(p) for p in procs]
    assert [r[0] for r in results] == [0] * len(procs), [r[2] for r in results]
    doc = policy.loads(hub.read_text())
    assert doc["groups"]["physics"]["members"] == users
    assert doc["admins"] == [f"teacher{i}" for i in range(4)]
    leftovers = [p.name for p in hub.parent.iterdir() if p.name.startswith(".policy.json.")]
    assert leftovers == []


def _waits_for_a_lock(pid: int) -> bool:
    # /proc/locks lists a process blocked on a lock as "N: -> FLOCK ADVISORY WRITE <pid> ...".
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and str(pid) in fields:
            return True
    return False


def test_a_writer_waits_for_the_lock_and_then_sees_the_other_change(hub):
    """Hold the lock, start a CLI writer, wait until it is blocked on the lock (or has
    finished, which would mean no locking), then change the policy ourselves. Both changes
    must persist; without the lock the CLI's member would be overwritten by our write."""
    policy_store.change(APP, lambda d: policy_ops.create_group(d, policy_ops.normalise_group("g")))
    started = []

    def add_alice_while_a_writer_waits(doc):
        proc = cli("jupyterhub:groups:add-member", APP, "g", "bob")
        started.append(proc)
        deadline = time.monotonic() + 60  # a bound against hanging, not a speed assertion
        while proc.poll() is None and not _waits_for_a_lock(proc.pid):
            assert time.monotonic() < deadline, "writer neither blocked nor finished"
            time.sleep(0.02)
        return policy_ops.PolicyChange({**doc, "admins": ["alice"]})

    policy_store.change(APP, add_alice_while_a_writer_waits)
    rc, _, err = finish(started[0])
    assert rc == 0, err
    doc = policy.loads(hub.read_text())
    assert doc["admins"] == ["alice"]
    assert doc["groups"]["g"]["members"] == ["bob"]


@pytest.mark.parametrize(
    "argv",
    [
        ["jupyterhub:admins:add", APP, "bob"],
        ["jupyterhub:admins:list", APP],
        ["jupyterhub:groups:add-member", APP, "physics", "bob"],
        ["jupyterhub:limits:set", APP, "--default", "--memory", "1G"],
        ["jupyterhub:users:list", APP],
    ],
)
def test_a_truncated_policy_is_a_clear_error_and_is_not_overwritten(hub, argv):
    good = policy.dumps(
        policy_ops.add_admins(policy.empty(), policy_ops.normalise_users(["alice"])).doc
    )
    truncated = good[: len(good) // 2]
    hub.write_text(truncated)
    mtime = hub.stat().st_mtime_ns
    rc, out, err = finish(cli(*argv))
    assert rc == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(" !     ")
    assert f"{hub} is invalid: policy is not valid JSON" in err
    assert hub.read_text() == truncated
    assert hub.stat().st_mtime_ns == mtime


def test_an_invalid_document_is_reported_with_the_reason(hub):
    hub.write_text(json.dumps({"version": 1, "admins": ["../root"]}))
    with pytest.raises(DokkuError, match="invalid admin name '../root'"):
        policy_store.read(APP)
    with pytest.raises(DokkuError):
        policy_store.change(APP, lambda d: policy_ops.PolicyChange({**d, "admins": ["ok"]}))
    assert json.loads(hub.read_text())["admins"] == ["../root"]


def test_a_failed_write_leaves_the_previous_file_intact(hub, monkeypatch):
    policy_store.change(APP, lambda d: policy_ops.add_admins(d, policy_ops.normalise_users(["a"])))
    before = hub.read_bytes()

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(policy_store.os, "fsync", crash)
    with pytest.raises(DokkuError, match="no space left on .*: policy.json was not changed"):
        policy_store.change(
            APP, lambda d: policy_ops.add_admins(d, policy_ops.normalise_users(["b"]))
        )
    assert hub.read_bytes() == before
    assert sorted(p.name for p in hub.parent.iterdir()) == [".policy.lock", "policy.json"]


def test_an_unchanged_policy_is_not_rewritten(hub):
    add_a = lambda d: policy_ops.add_admins(d, policy_ops.normalise_users(["a"]))  # noqa: E731
    policy_store.change(APP, add_a)
    mtime, ino = hub.stat().st_mtime_ns, hub.stat().st_ino
    policy_store.change(APP, add_a)
    policy_store.change(APP, lambda d: policy_ops.PolicyChange(d))
    assert (hub.stat().st_mtime_ns, hub.stat().st_ino) == (mtime, ino)


def test_no_file_is_written_for_a_no_op_on_a_fresh_app(hub):
    policy_store.change(
        APP, lambda d: policy_ops.remove_admins(d, policy_ops.normalise_users(["x"]))
    )
    assert not hub.exists()
    assert policy_store.read(APP) == policy.empty()


def test_limits_already_written_are_not_rechecked_against_this_host(hub):
    """A policy written on a bigger host must not block every other command."""
    big = policy.empty()
    big["limits"]["users"]["bob"] = {"memory": "100000G", "cpu": 4096}
    hub.write_text(policy.dumps(big))
    out = policy_store.change(
        APP, lambda d: policy_ops.add_admins(d, policy_ops.normalise_users(["alice"]))
    )
    assert out.done
    assert policy.loads(hub.read_text())["limits"]["users"]["bob"]["memory"] == "100000G"
    # but a new limit above this host is refused, and nothing is written
    before = hub.read_bytes()
    def carol_above_this_host(doc):
        doc["limits"]["users"]["carol"] = {"memory": "100000G"}
        return policy_ops.PolicyChange(doc)

    with pytest.raises(PolicyError, match="more than this host"):
        policy_store.change(APP, carol_above_this_host)
    assert hub.read_bytes() == before


def test_the_file_is_readable_json_with_a_version(hub):
    policy_store.change(
        APP, lambda d: policy_ops.add_admins(d, policy_ops.normalise_users(["alice"]))
    )
    assert oct(hub.stat().st_mode & 0o777) == "0o644"
    assert json.loads(hub.read_text())["version"] == policy.VERSION


def test_only_hub_apps_pass(dokku_env):
    properties.set("web", "other-key", "x")
    for app in ["web", "nope", "../hub", "a/b", "", "Hub"]:
        with pytest.raises(DokkuError, match="is not a jupyterhub app"):
            hub_apps.require_hub_app(app)
    properties.set("hub", "hub-app", "true")
    assert hub_apps.require_hub_app("hub") == "hub"


def test_a_hub_app_without_data_directory_is_explained(dokku_env):
    properties.set("hub", "hub-app", "true")
    with pytest.raises(DokkuError, match="has no data directory"):
        policy_store.change("hub", lambda d: policy_ops.PolicyChange(d))
