"""Where a group membership comes from (for users:list): the policy, the groups claim, both."""

from __future__ import annotations

from dokku_jupyterhub.hub_runtime import policy

DOC = policy.validate({
    "version": 1,
    "groups": {
        "lab": {"members": ["bob"]},
        "physics": {"members": ["bob"]},
        "chem": {"members": []},
    },
})


def test_group_sources():
    assert policy.group_sources(DOC, "bob", ("physics", "chem", "unknown")) == {
        "chem": "claim",
        "lab": "policy",
        "physics": "policy+claim",
    }
    assert policy.group_sources(DOC, "carol") == {}
    # Same set as groups_of, which mounts and limits use.
    assert sorted(policy.group_sources(DOC, "bob", ("chem",))) == policy.groups_of(
        DOC, "bob", ("chem",)
    )
