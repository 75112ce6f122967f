"""Usernames: the safe-name gate and the old setup's Azure AD rule."""

from __future__ import annotations

import pytest

from dokku_jupyterhub.hub_runtime import names


@pytest.mark.parametrize(
    "name",
    ["alice", "bob--school-edu", "dora@example.org", "x", "a.b_c+d-e", "0day", "a" * 64],
)
def test_safe_names(name):
    assert names.is_safe_name(name)


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "../x", "a/b", ".hidden", "-dash", "Upper", "nul\x00", "new\nline",
     "tab\tx", "sp ace", "o'brien", "live.com#eve", "ü", "a" * 65, None, 42],
)
def test_unsafe_names(name):
    assert not names.is_safe_name(name)


# The old setup's rule: lowercase; drop `,` and spaces; `@` -> `--`; `.` -> `-`; over 31
# characters, shorten the part before the `--` so the whole is 31.
AZURE_CASES = [
    ("alice@school.edu", "alice--school-edu"),
    ("Alice.Smith@School.EDU", "alice-smith--school-edu"),
    ("  bob@school.edu ", "bob--school-edu"),
    ("Smith, John@school.edu", "smithjohn--school-edu"),
    ("anna maria@school.edu", "annamaria--school-edu"),
    ("first.middle.last@students.school.edu", "first-midd--students-school-edu"),
    ("christina.mariabernadette.a@school.edu", "christina-mariabern--school-edu"),
    ("christina.mariabernadette.b@school.edu", "christina-mariabern--school-edu"),
    ("thirty.one.chars.exactly@sch.c", "thirty-one-chars-exactly--sch-c"),
    ("exactly.thirty.two.chars@sch.ch", "exactly-thirty-two-char--sch-ch"),
    ("a@verylongdomainnamethatistoolong.example.edu", "a--verylongdomainnamethatistool"),
    ("no-at-sign-but-a-very-long-principal-name", "no-at-sign-but-a-very-long-prin"),
    ("anna..b@x.ch", "anna--b--x-ch"),
    ("o'brien@school.edu", "o'brien--school-edu"),  # unsafe: refused by the authenticator
]


@pytest.mark.parametrize(("principal", "expected"), AZURE_CASES)
def test_azure_username_rule(principal, expected):
    result = names.azure_username(principal)
    assert result == expected
    assert len(result) <= names.AZURE_MAX_LENGTH


def test_azure_shortening_keeps_the_domain():
    result = names.azure_username("first.middle.last@students.school.edu")
    assert result.endswith("--students-school-edu")
    assert len(result) == 31


def test_azure_rule_is_idempotent_on_its_output():
    for principal, _ in AZURE_CASES:
        once = names.azure_username(principal)
        assert names.azure_username(once) == once
