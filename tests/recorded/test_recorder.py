"""The recording fake (tests/support/recorder.py) refuses the syntax real Dokku refuses."""

from __future__ import annotations

import pytest
from support.recorder import FakeDokku, check_syntax

# ---- the checker refuses what Dokku refuses ----------------------------------------------

REFUSED = [
    (["ports:set", "hub", "80:8000"], "bad mapping"),
    (["config:set", "--no-restart", "hub", "1BAD=x"], "invalid pair"),
    (["config:set", "hub", "NOEQUALS"], "invalid pair"),
    (["storage:mount", "hub", "relative:/data"], "host:container"),
    (["storage:mount", "hub", "/host"], "host:container"),
    (["nginx:set", "hub", "max-body-size", "30m"], "unknown property"),
    (["network:set", "hub", "attach", "net"], "unknown property"),
    (["postgres:create", "hub.db"], "invalid service name"),
    (["apps:create", "Hub"], "invalid app name"),
    (["domains:report", "hub", "--domains-app-vhosts", "--domains-global-vhosts"], "refuses"),
    (["git:from-archive", "hub", "https://x/y.tar"], "stdin"),
    (["letsencrypt:set", "hub", "mail", "a@b.c"], "unknown property"),
    (["config:set", "--restart", "hub", "A=b"], "refuses the flag"),
    (["letsencrypt"], "unknown"),
]


@pytest.mark.parametrize(("args", "why"), REFUSED)
def test_checker_refuses_syntax_dokku_refuses(args, why):
    with pytest.raises(AssertionError, match=why):
        check_syntax(args)


ACCEPTED = [
    ["ports:set", "hub", "http:80:8000", "https:443:8000"],
    ["storage:mount", "hub", "/var/run/docker.sock:/var/run/docker.sock"],
    ["config:set", "--no-restart", "hub", "A=b=c", "B="],
    ["network:set", "hub", "attach-post-create", "hub-network"],
    ["postgres:link", "hub-db", "hub", "--no-restart"],
    ["config:export", "--format", "json", "hub"],
    ["git:from-archive", "hub", "--"],
]


@pytest.mark.parametrize("args", ACCEPTED)
def test_checker_accepts_current_syntax(args):
    check_syntax(args)


def test_fake_refuses_duplicate_mount_like_dokku():
    fake = FakeDokku(apps={"hub"})
    assert fake(["storage:mount", "hub", "/a:/b"], None, False).ok
    again = fake(["storage:mount", "hub", "/a:/b"], None, False)
    assert not again.ok and "already exists" in again.stderr
