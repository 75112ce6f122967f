"""Pure tests of the policy changes (policy_ops) and of the decisions the hub takes from a
policy (hub.policy): which folders a user gets, with which mode, and which limits."""

from __future__ import annotations

import copy

import pytest

from dokku_jupyterhub import policy_ops as ops
from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.hub_runtime.policy import PolicyError
from dokku_jupyterhub.hub_runtime.spawn_decision import BindMount, mounts_for

GiB = 1024**3


def names(*typed: str, provider: str | None = None) -> list[ops.Name]:
    return ops.normalise_users(typed, provider)


def group(name: str) -> ops.Name:
    return ops.normalise_group(name)


@pytest.fixture
def doc():
    d = policy.empty()
    d = ops.add_admins(d, names("alice")).doc
    d = ops.create_group(d, group("physics"), "rw").doc
    d = ops.create_group(d, group("chem")).doc
    d = ops.add_members(d, group("physics"), names("bob", "carol")).doc
    d = ops.add_members(d, group("chem"), names("carol")).doc
    return policy.validate(d)


# ---- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "provider", "stored"),
    [
        ("alice", None, "alice"),
        ("Alice", None, "alice"),
        ("  bob ", None, "bob"),
        ("a.b@school.org", "github", "a.b@school.org"),
        ("Alice.Smith@School.org", "azuread", "alice-smith--school-org"),
        ("alice-smith--school-org", "azuread", "alice-smith--school-org"),
    ],
)
def test_usernames_are_normalised_as_the_hub_sees_them(typed, provider, stored):
    n = ops.normalise_user(typed, provider)
    assert n.name == stored
    assert (n.note is None) == (typed == stored)


@pytest.mark.parametrize(
    "typed", ["../x", "a/b", ".x", "", " ", "a b", "x\x00y", "line\nbreak", "-x", "x" * 65, "é"]
)
def test_hostile_usernames_are_refused_not_rewritten(typed):
    with pytest.raises(PolicyError, match="invalid username"):
        ops.normalise_user(typed)


@pytest.mark.parametrize("typed", ["../g", "a/b", ".g", "", "g h"])
def test_hostile_group_names_are_refused(typed):
    with pytest.raises(PolicyError, match="invalid group name"):
        ops.normalise_group(typed)


def test_one_bad_name_refuses_the_whole_list():
    with pytest.raises(PolicyError):
        names("good", "../bad")


def test_duplicates_after_normalisation_count_once():
    assert [n.name for n in names("Bob", "bob", "BOB")] == ["bob"]


@pytest.mark.parametrize(
    ("typed", "default", "expected"),
    [
        ("bob", False, ops.Target("user", "bob", "bob")),
        ("@physics", False, ops.Target("group", "physics", "@physics")),
        (None, True, ops.Target("default")),
    ],
)
def test_limit_targets(typed, default, expected):
    assert ops.parse_target(typed, default) == expected


@pytest.mark.parametrize(("typed", "default"), [(None, False), ("bob", True), ("@../x", False)])
def test_bad_limit_targets(typed, default):
    with pytest.raises(PolicyError):
        ops.parse_target(typed, default)


# ---- changes are new documents ----------------------------------------------------------


def test_operations_never_mutate_their_input(doc):
    before = copy.deepcopy(doc)
    ops.add_admins(doc, names("zed"))
    ops.remove_admins(doc, names("alice"))
    ops.add_members(doc, group("physics"), names("zed"))
    ops.remove_members(doc, group("physics"), names("bob"))
    ops.destroy_group(doc, group("physics"))
    ops.set_limits(doc, ops.Target("user", "bob"), "1G")
    ops.unset_limits(doc, ops.Target("default"))
    assert doc == before


def test_adding_an_existing_admin_changes_nothing_and_says_so(doc):
    out = ops.add_admins(doc, names("alice"))
    assert out.doc == doc
    assert out.done == ()
    assert out.unchanged == ("alice is already an admin",)


def test_add_and_remove_admins(doc):
    out = ops.add_admins(doc, names("zed", "alice"))
    assert out.doc["admins"] == ["alice", "zed"]
    assert out.done == ("Added zed as an admin",)
    out = ops.remove_admins(out.doc, names("alice", "nobody"))
    assert out.doc["admins"] == ["zed"]
    assert out.unchanged == ("nobody is not an admin",)


def test_allowed_users(doc):
    out = ops.add_users(doc, names("dave"))
    assert policy.is_allowed(out.doc, "dave")
    assert not policy.is_allowed(ops.remove_users(out.doc, names("dave")).doc, "dave")


def test_create_group_is_idempotent_and_changes_mode_only_when_asked(doc):
    assert ops.create_group(doc, group("physics")).doc == doc
    assert ops.create_group(doc, group("physics"), "rw").doc == doc
    changed = ops.create_group(doc, group("physics"), "ro")
    assert changed.doc["groups"]["physics"] == {"members_mode": "ro", "members": ["bob", "carol"]}
    assert "changed from rw to ro" in changed.done[0]
    with pytest.raises(PolicyError):
        ops.create_group(doc, group("x"), "rwx")


def test_destroy_group_drops_its_members_and_limits(doc):
    d = ops.set_limits(doc, ops.Target("group", "physics"), "1G").doc
    out = ops.destroy_group(d, group("physics"))
    assert "physics" not in out.doc["groups"]
    assert "physics" not in out.doc["limits"]["groups"]
    assert policy.groups_of(out.doc, "bob") == []
    with pytest.raises(PolicyError, match="unknown group nope"):
        ops.destroy_group(doc, group("nope"))


def test_members(doc):
    out = ops.add_members(doc, group("chem"), names("bob", "carol"))
    assert out.doc["groups"]["chem"]["members"] == ["bob", "carol"]
    assert out.unchanged == ("carol is already a member of chem",)
    out = ops.remove_members(out.doc, group("chem"), names("carol", "zed"))
    assert out.doc["groups"]["chem"]["members"] == ["bob"]
    assert out.unchanged == ("zed is not a member of chem",)
    with pytest.raises(PolicyError, match="unknown group"):
        ops.add_members(doc, group("nope"), names("bob"))
    with pytest.raises(PolicyError, match="unknown group"):
        ops.remove_members(doc, group("nope"), names("bob"))


# ---- limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("memory", "cpu", "error"),
    [
        ("-1", None, "invalid memory"),
        ("10P", None, "invalid memory"),
        ("abc", None, "invalid memory"),
        ("1k", None, "at least 6m"),
        ("9G", None, "more than this host"),
        (None, "0", "invalid cpu"),
        (None, "-1", "invalid cpu"),
        (None, "nan", "invalid cpu"),
        (None, "inf", "invalid cpu"),
        (None, "x", "invalid cpu"),
        (None, "3", "more than this host's 2 cores"),
        (None, None, "--memory and/or --cpu"),
    ],
)
def test_bad_limits_are_refused(doc, memory, cpu, error):
    with pytest.raises(PolicyError, match=error):
        ops.set_limits(doc, ops.Target("user", "bob"), memory, cpu, 8 * GiB, 2)


def test_set_limits_for_unknown_group_is_refused(doc):
    with pytest.raises(PolicyError, match="unknown group"):
        ops.set_limits(doc, ops.Target("group", "nope"), "1G")


def test_set_and_unset_limits(doc):
    bob = ops.Target("user", "bob")
    out = ops.set_limits(doc, bob, "2G", "1.5", 8 * GiB, 2)
    assert out.doc["limits"]["users"]["bob"] == {"memory": "2G", "cpu": 1.5}
    again = ops.set_limits(out.doc, bob, "2048m", "1.5")
    assert again.doc == out.doc and again.done == ()
    only_cpu = ops.unset_limits(out.doc, bob, memory=False, cpu=True)
    assert only_cpu.doc["limits"]["users"]["bob"] == {"memory": "2G"}
    gone = ops.unset_limits(only_cpu.doc, bob)
    assert "bob" not in gone.doc["limits"]["users"]
    assert ops.unset_limits(gone.doc, bob).unchanged == ("bob has no limits",)


def test_unsetting_the_default_memory_restores_350m(doc):
    d = ops.set_limits(doc, ops.Target("default"), "1G", "1").doc
    out = ops.unset_limits(d, ops.Target("default"))
    assert out.doc["limits"]["default"] == {"memory": "350m"}
    assert ops.unset_limits(out.doc, ops.Target("default"), memory=True).done == ()


def test_unset_limits_of_a_destroyed_group_still_works_when_a_limit_is_left():
    d = policy.empty()
    d["limits"]["groups"]["gone"] = {"memory": "1G"}
    out = ops.unset_limits(d, ops.Target("group", "gone"))
    assert out.doc["limits"]["groups"] == {}
    with pytest.raises(PolicyError, match="unknown group"):
        ops.unset_limits(out.doc, ops.Target("group", "gone"))


# ---- what the hub computes for a user from the policy -----------------------------------


def test_largest_applicable_limit_wins(doc):
    d = ops.set_limits(doc, ops.Target("group", "physics"), "1G", "1").doc
    d = ops.set_limits(d, ops.Target("group", "chem"), "512m", "2").doc
    d = ops.set_limits(d, ops.Target("user", "carol"), "768m").doc
    assert policy.limits_for(d, "carol") == ("1G", 2.0)  # physics memory, chem cpu
    assert policy.limits_for(d, "bob") == ("1G", 1.0)
    assert policy.limits_for(d, "nobody") == ("350m", None)
    d = ops.set_limits(d, ops.Target("default"), "2G").doc
    assert policy.limits_for(d, "bob") == ("2G", 1.0)  # a group limit never lowers the default


def test_claimed_groups_count_for_limits_and_mounts_only_when_the_policy_knows_them(doc):
    d = ops.set_limits(doc, ops.Target("group", "chem"), "4G").doc
    assert policy.limits_for(d, "dave", ("chem", "unknown")) == ("4G", None)
    mounts = mounts_for(d, "dave", "/h", ("chem", "unknown"))
    assert BindMount("/h/groups/chem", "/home/jovyan/work/groups/chem", "ro") in mounts
    assert not any("unknown" in m.host for m in mounts)


def test_mounts_for_member_plain_user_and_admin(doc):
    work = "/home/jovyan/work"
    bob = mounts_for(doc, "bob", "/h")
    assert bob == [
        BindMount("/h/users/bob", work, "rw"),
        BindMount("/h/user-settings/bob", "/home/jovyan/.jupyter/lab", "rw"),
        BindMount("/h/shared", f"{work}/shared", "ro"),
        BindMount("/h/colab", f"{work}/colab", "rw"),
        BindMount("/h/groups/physics", f"{work}/groups/physics", "rw"),
    ]
    carol = mounts_for(doc, "carol", "/h")
    assert BindMount("/h/groups/chem", f"{work}/groups/chem", "ro") in carol
    plain = mounts_for(doc, "dave", "/h")
    assert not any("/groups/" in m.host for m in plain)
    admin = mounts_for(doc, "alice", "/h")
    assert BindMount("/h/shared", f"{work}/shared", "rw") in admin
    assert BindMount("/h/groups/chem", f"{work}/groups/chem", "rw") in admin
    assert admin[-1] == BindMount("/h/users", f"{work}/users", "rw")


def test_a_change_is_seen_by_the_next_computation(doc):
    # What the hub does at each spawn: recompute from the current document.
    assert not any("chem" in m.host for m in mounts_for(doc, "bob", "/h"))
    d = ops.add_members(doc, group("chem"), names("bob")).doc
    assert any("chem" in m.host for m in mounts_for(d, "bob", "/h"))


def test_named_users(doc):
    d = ops.set_limits(doc, ops.Target("user", "zed"), "1G").doc
    d = ops.add_users(d, names("eve")).doc
    assert ops.named_users(d) == ["alice", "bob", "carol", "eve", "zed"]


def test_operations_produce_documents_that_validate(doc):
    d = ops.set_limits(doc, ops.Target("group", "chem"), "1.5G", "0.5").doc
    d = ops.add_users(d, names("eve")).doc
    assert policy.validate(d) == d
    assert policy.loads(policy.dumps(d)) == d


def test_a_new_memory_limit_must_let_a_notebook_server_start():
    with pytest.raises(PolicyError, match="at least 128m"):
        ops.check_limit_values("100m", None)
    assert ops.check_limit_values("128m", None) == ("128m", None)
    # a file that already holds a smaller limit stays readable (Docker's own 6m floor)
    doc = policy.validate({"version": 1, "limits": {"users": {"bob": {"memory": "64m"}}}})
    assert doc["limits"]["users"]["bob"] == {"memory": "64m"}


def test_no_effect_says_which_rule_outbids_a_limit(doc):
    d = ops.set_limits(doc, ops.Target("user", "zed"), "200m", "0.5").doc
    d = ops.set_limits(d, ops.Target("default"), cpu="1").doc
    lines = ops.no_effect(d, ops.Target("user", "zed"))
    assert len(lines) == 2
    assert lines[0].startswith("zed still gets 350m of memory, not 200m")
    assert lines[1].startswith("zed still gets 1 CPU, not 0.5")
    assert ops.no_effect(ops.set_limits(d, ops.Target("user", "zed"), "1G", "2").doc,
                         ops.Target("user", "zed")) == []
    g = ops.set_limits(d, ops.Target("group", "chem"), "300m").doc
    assert ops.no_effect(g, ops.Target("group", "chem"))[0].startswith(
        "@chem still gets 350m of memory, not 300m")
    assert ops.no_effect(g, ops.Target("default")) == []
