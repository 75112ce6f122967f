"""`dokku jupyterhub:auth:set` through the CLI; Dokku is a syntax-checking recorder."""

from __future__ import annotations

import io
import re

import pytest
from support.recorder import check_syntax

from dokku_jupyterhub import cli, dokku_cli, paths, policy_ops, policy_store, properties

SECRET = "Zq8~x.SECRET-do-not-print~7"
TENANT = "6d1b5f0e-7c2a-4c1e-9a55-2f0d7e3c9b10"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DokkuRecorder:
    """Accepts only the syntax real Dokku accepts (the table the stand-in and the recording
    fake share), records the changing calls auth:set makes, answers whether the hub has TLS,
    and (like Dokku) echoes config values to its stdout, which must never be shown."""

    def __init__(self, fail: str | None = None, tls: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.streamed: list[bool] = []
        self.fail = fail
        self.tls = tls

    def __call__(self, args, input, stream):
        args = list(args)
        rest = [a for a in args if a != "--quiet"]
        _, flags = check_syntax(rest)
        cmd, params = rest[0], [a for a in rest[1:] if a != "--no-restart"]
        if cmd == "certs:report":
            assert flags == {"--ssl-enabled": True}, args
            return dokku_cli.Result(0, "true\n" if self.tls else "false\n", "")
        assert cmd in ("config:set", "config:unset", "ps:restart"), cmd
        self.calls.append(args)
        self.streamed.append(stream)
        echoed = "\n".join(f"       {p}" for p in params[1:])
        if self.fail == cmd:
            # A failure whose last line carries a value (the worst case for leaking it).
            last = sorted(params[1:], key=lambda p: "SECRET" in p)[-1]
            return dokku_cli.Result(1, f"-----> Setting config vars\n{echoed}\n",
                                    f" !     could not write {last}\n")
        return dokku_cli.Result(0, f"-----> Setting config vars\n{echoed}\n", "")


@pytest.fixture
def dokku(dokku_env, monkeypatch):
    properties.set("hub", "hub-app", "true")
    properties.set("hub", "domains", "hub.example.edu")
    recorder = DokkuRecorder()
    monkeypatch.setattr(dokku_cli, "runner", recorder)
    return recorder


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["jupyterhub:auth:set", *argv])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def config_set(recorder) -> dict[str, str]:
    (call,) = [c for c in recorder.calls if "config:set" in c]
    assert call[:4] == ["--quiet", "config:set", "--no-restart", "hub"]
    return dict(pair.split("=", 1) for pair in call[4:])


def config_unset(recorder) -> list[str]:
    (call,) = [c for c in recorder.calls if "config:unset" in c]
    assert call[:4] == ["--quiet", "config:unset", "--no-restart", "hub"]
    return call[4:]


def commands(recorder) -> list[str]:
    return [next(a for a in call if a != "--quiet") for call in recorder.calls]


def set_admins(*admins: str) -> None:
    paths.data_root("hub").mkdir(parents=True, exist_ok=True)
    policy_store.change("hub", lambda doc: policy_ops.PolicyChange({**doc, "admins": list(admins)}))


def test_azuread(dokku, capsys):
    code, out, err = run(
        capsys, "hub", "azuread", "--client-id", "client-1", "--client-secret", SECRET,
        "--tenant-id", TENANT,
    )
    assert code == 0, err
    assert SECRET not in out + err
    assert config_set(dokku) == {
        "HUB_AUTH_PROVIDER": "azuread",
        "HUB_OAUTH_CLIENT_ID": "client-1",
        "HUB_OAUTH_CLIENT_SECRET": SECRET,
        "HUB_OAUTH_CALLBACK_URL": "http://hub.example.edu/hub/oauth_callback",
        "HUB_AZURE_TENANT_ID": TENANT,
    }
    assert set(config_unset(dokku)) == {
        "HUB_OIDC_AUTHORIZE_URL", "HUB_OIDC_TOKEN_URL", "HUB_OIDC_USERDATA_URL",
        "HUB_OIDC_JWKS_URL", "HUB_OIDC_USERNAME_CLAIM", "HUB_OAUTH_GROUPS_CLAIM",
        "HUB_ALLOW_ALL",
    }
    # The new keys first, then the stale ones go, then the one restart.
    assert commands(dokku) == ["config:set", "config:unset", "ps:restart"]
    assert dokku.calls[-1] == ["ps:restart", "hub"] and dokku.streamed[-1] is True
    assert "HUB_OAUTH_CLIENT_SECRET: ********" in out
    assert "HUB_OAUTH_CLIENT_ID: client-1" in out
    assert "http://hub.example.edu/hub/oauth_callback" in out
    # The hub has no TLS yet: the callback says what it really serves, and a warning how to fix.
    assert "served over plain http" in err and "dokku letsencrypt:enable hub" in err
    assert properties.get("hub", "auth-provider") == "azuread"


def test_a_hub_with_tls_gets_an_https_callback(dokku, capsys):
    dokku.tls = True
    code, out, err = run(
        capsys, "hub", "github", "--client-id", "client-1", "--client-secret", SECRET,
    )
    assert code == 0, err
    callback = config_set(dokku)["HUB_OAUTH_CALLBACK_URL"]
    assert callback == "https://hub.example.edu/hub/oauth_callback"
    assert "plain http" not in err


def test_secret_from_stdin_and_no_restart(dokku, capsys, monkeypatch):
    code, out, err = run(
        capsys, "hub", "github", "--client-id", "gh-1", "--client-secret", "-", "--no-restart",
        "--callback-url", "https://jh.example.org/hub/oauth_callback",
        stdin=SECRET + "\n", monkeypatch=monkeypatch,
    )
    assert code == 0, err
    assert config_set(dokku)["HUB_OAUTH_CLIENT_SECRET"] == SECRET
    assert config_set(dokku)["HUB_OAUTH_CALLBACK_URL"] == "https://jh.example.org/hub/oauth_callback"
    assert not any("ps:restart" in c for c in dokku.calls)
    assert "dokku ps:restart hub" in out
    assert SECRET not in out + err


def test_generic_oidc_with_groups_and_allow_all(dokku, capsys):
    code, out, err = run(
        capsys, "hub", "generic-oidc", "--client-id", "c", "--client-secret", SECRET,
        "--authorize-url", "https://id.example.org/authorize",
        "--token-url", "https://id.example.org/token",
        "--userdata-url", "https://id.example.org/userinfo",
        "--username-claim", "email", "--groups-claim", "groups", "--allow-all",
    )
    assert code == 0, err
    values = config_set(dokku)
    assert values["HUB_OIDC_USERNAME_CLAIM"] == "email"
    assert values["HUB_OAUTH_GROUPS_CLAIM"] == "groups"
    assert values["HUB_ALLOW_ALL"] == "true"
    assert "--allow-all: anyone who can log in" in err
    assert SECRET not in out + err


def test_none_returns_to_the_closed_default(dokku, capsys):
    properties.set("hub", "auth-provider", "azuread")
    code, out, err = run(capsys, "hub", "none")
    assert code == 0, err
    assert config_set(dokku) == {"HUB_AUTH_PROVIDER": "none"}
    unset = config_unset(dokku)
    assert "HUB_OAUTH_CLIENT_SECRET" in unset and "HUB_ALLOW_ALL" in unset
    assert "HUB_AUTH_PROVIDER" not in unset
    assert properties.get("hub", "auth-provider") == "none"
    assert "dokku config:get hub HUB_ADMIN_PASSWORD" in out


BAD = [
    (["hub", "okta"], "unknown login provider 'okta'"),
    (["hub", "azuread", "--client-id", "c", "--client-secret", SECRET], "needs --tenant-id"),
    (["hub", "github", "--client-id", "c"], "needs --client-secret"),
    (["hub", "github", "--client-id", "c", "--client-secret", SECRET, "--tenant-id", "t"],
     "--tenant-id does not apply to the github provider"),
    (["hub", "generic-oidc", "--client-id", "c", "--client-secret", SECRET, "--authorize-url",
      "https://id/a", "--token-url", "https://id/t", "--userdata-url", "https://id/u",
      "--jwks-url", "https://id/keys"], "--jwks-url does not apply to the generic-oidc"),
    (["hub", "azuread", "--client-id", "c", "--client-secret", SECRET, "--tenant-id", TENANT,
      "--jwks-url", "file:///etc/keys.json"], "--jwks-url must be an http(s) URL"),
    (["hub", "none", "--client-id", "c"], "--client-id does not apply to the none provider"),
    (["hub", "none", "--allow-all"], "--allow-all does not apply"),
    (["hub", "github", "--client-id", "c", "--client-secret", SECRET, "--callback-url",
      "javascript:alert(1)"], "--callback-url must be an http(s) URL"),
    (["hub", "github", "--client-id", "c", "--client-secret", SECRET, "--callback-url",
      "https://user:pw@hub.example.edu/cb"], "without credentials"),
    (["hub", "github", "--client-id", "c", "--client-secret", "a\nb"], "single line"),
    (["hub", "github", "--client-id", "c d", "--client-secret", SECRET], "--client-id has"),
    (["hub", "azuread", "--client-id", "c", "--client-secret", SECRET, "--tenant-id",
      "bad tenant"], "--tenant-id must be"),
    (["hub", "github", "--client-id", "c", "--client-secret", SECRET, "--groups-claim",
      "grou ps"], "--groups-claim must be a claim name"),
    (["hub", "generic-oidc", "--client-id", "c", "--client-secret", SECRET],
     "needs --authorize-url --token-url --userdata-url"),
    (["other", "none"], "other is not a jupyterhub app"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_input_changes_nothing(dokku, capsys, argv, message):
    properties.set("hub", "auth-provider", "github")
    code, out, err = run(capsys, *argv)
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(" !     "), err
    assert message in lines[0]
    assert SECRET not in out + err
    assert dokku.calls == []
    assert properties.get("hub", "auth-provider") == "github"


def test_callback_needed_when_no_domain(dokku, capsys):
    properties.set("hub", "domains", "")
    code, out, err = run(capsys, "hub", "github", "--client-id", "c", "--client-secret", SECRET)
    assert code == 1 and "give --callback-url" in err
    assert dokku.calls == []


def test_empty_secret_on_stdin(dokku, capsys, monkeypatch):
    code, out, err = run(
        capsys, "hub", "github", "--client-id", "c", "--client-secret", "-",
        stdin="", monkeypatch=monkeypatch,
    )
    assert code == 1 and "nothing was read from stdin" in err
    assert dokku.calls == []


def test_dokku_failure_never_shows_the_secret(dokku, capsys):
    dokku.fail = "config:set"
    code, out, err = run(capsys, "hub", "github", "--client-id", "c", "--client-secret", SECRET)
    assert code == 1
    assert "dokku config:set failed (exit 1)" in err
    assert SECRET not in out + err
    assert "********" in err  # the echoed line was scrubbed, not printed raw
    assert properties.get("hub", "auth-provider") is None


def test_failed_config_set_unsets_nothing(dokku, capsys):
    """Switching providers: if writing the new keys fails, the old ones are all still there
    (the hub is never left with a provider and no client keys), and nothing restarts."""
    properties.set("hub", "auth-provider", "github")
    dokku.fail = "config:set"
    code, out, err = run(capsys, "hub", "azuread", "--client-id", "client-1",
                         "--client-secret", SECRET, "--tenant-id", TENANT)
    assert code == 1 and "dokku config:set failed" in err
    assert commands(dokku) == ["config:set"]
    assert properties.get("hub", "auth-provider") == "github"


def test_failed_config_unset_keeps_the_new_keys_and_does_not_restart(dokku, capsys):
    dokku.fail = "config:unset"
    dokku.tls = True  # no warning about a plain-http callback: the error is the only line
    code, out, err = run(capsys, "hub", "azuread", "--client-id", "client-1",
                         "--client-secret", SECRET, "--tenant-id", TENANT)
    assert code == 1
    assert commands(dokku) == ["config:set", "config:unset"]
    assert config_set(dokku)["HUB_OAUTH_CLIENT_ID"] == "client-1"
    lines = err.splitlines()
    assert len(lines) == 1 and "dokku config:unset failed (exit 1)" in lines[0]
    assert "hub was not restarted: run this auth:set again" in lines[0]
    assert SECRET not in out + err


def test_jwks_url_for_azuread(dokku, capsys):
    keys = "https://login.microsoftonline.us/contoso.onmicrosoft.com/discovery/v2.0/keys"
    code, out, err = run(capsys, "hub", "azuread", "--client-id", "c", "--client-secret",
                         SECRET, "--tenant-id", "contoso.onmicrosoft.com", "--jwks-url", keys,
                         "--no-restart")
    assert code == 0, err
    assert config_set(dokku)["HUB_OIDC_JWKS_URL"] == keys
    assert "HUB_OIDC_JWKS_URL" not in config_unset(dokku)
    assert f"HUB_OIDC_JWKS_URL: {keys}" in out


def test_switching_to_azuread_warns_about_admins_no_azure_login_can_match(dokku, capsys):
    # `create --admin alice`, then Azure AD: its logins are named alice--school-edu.
    set_admins("alice", "bob--school-edu", "carol.smith", "dave@school.edu")
    code, out, err = run(capsys, "hub", "azuread", "--client-id", "c", "--client-secret",
                         SECRET, "--tenant-id", TENANT)
    assert code == 0, err  # a warning, not a refusal
    warned = [line for line in err.splitlines() if "can never log in with azuread" in line]
    assert [line.split()[2] for line in warned] == ["alice", "carol.smith", "dave@school.edu"]
    assert all(line.startswith(" !     ") for line in warned)
    assert "dokku jupyterhub:admins:add hub <user>--<domain>" in warned[0]
    assert "alice@school.edu is alice--school-edu" in warned[0]
    assert config_set(dokku)["HUB_AUTH_PROVIDER"] == "azuread"
    assert commands(dokku)[-1] == "ps:restart"


def test_no_admin_warning_when_the_names_fit_or_cannot_be_judged(dokku, capsys):
    set_admins("alice--school-edu", "christina-mariabern--school-edu")
    code, out, err = run(capsys, "hub", "azuread", "--client-id", "c", "--client-secret",
                         SECRET, "--tenant-id", TENANT, "--no-restart")
    assert code == 0 and "can never log in" not in err
    # Generic OIDC names come from a claim of any form: nothing to judge.
    set_admins("alice")
    code, out, err = run(capsys, "hub", "generic-oidc", "--client-id", "c", "--client-secret",
                         SECRET, "--authorize-url", "https://id.example.org/a", "--token-url",
                         "https://id.example.org/t", "--userdata-url", "https://id.example.org/u",
                         "--no-restart")
    assert code == 0 and "can never log in" not in err


def test_switching_to_github_warns_about_admins_no_github_login_can_match(dokku, capsys):
    set_admins("alice--school-edu", "octocat", "dora@example.org")
    code, out, err = run(capsys, "hub", "github", "--client-id", "c", "--client-secret",
                         SECRET, "--no-restart")
    assert code == 0, err
    warned = [line.split()[2] for line in err.splitlines() if "can never log in" in line]
    assert warned == ["alice--school-edu", "dora@example.org"]
    # With a chosen claim the names may have any form.
    code, out, err = run(capsys, "hub", "github", "--client-id", "c", "--client-secret",
                         SECRET, "--username-claim", "email", "--no-restart")
    assert code == 0 and "can never log in" not in err


@pytest.mark.parametrize(("name", "expected"), [
    ("alice--school-edu", True),
    ("first-last--school-edu", True),
    ("christina-mariabern--school-edu", True),   # shortened to 31 by the rule
    ("a--b--x-y", True),                          # a..b@x.y
    ("alice", False),
    ("alice--school.edu", False),                 # dots never survive the rule
    ("alice@school.edu", False),
    ("christina-mariabernadette--school-edu", False),  # longer than the rule ever makes
])
def test_azure_can_produce(name, expected):
    from dokku_jupyterhub.login_config import azure_can_produce

    assert azure_can_produce(name) is expected


def test_plain_http_endpoint_is_warned_not_refused(dokku, capsys):
    code, out, err = run(
        capsys, "hub", "azuread", "--client-id", "c", "--client-secret", SECRET,
        "--tenant-id", TENANT, "--authorize-url", "http://oidc-standin:8080/authorize",
        "--token-url", "http://127.0.0.1:8080/token", "--no-restart",
    )
    assert code == 0, err
    assert "--authorize-url uses plain http" in err
    assert "--token-url" not in err  # loopback is fine
