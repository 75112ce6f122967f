"""`jupyterhub:report` and the `report` trigger, in Dokku's report convention, secrets masked."""

from __future__ import annotations

import json

import pytest
from support.clirun import run
from support.recorder import FakeDokku, install_plugins

from dokku_jupyterhub import dokku_cli, properties
from dokku_jupyterhub import hub_report as report
from dokku_jupyterhub.paths import data_root
from dokku_jupyterhub.triggers import report as report_trigger


@pytest.fixture
def hub(dokku_env, monkeypatch, engine, capsys):
    fake = FakeDokku()
    monkeypatch.setattr(dokku_cli, "runner", fake)
    install_plugins(dokku_env, "postgres", "letsencrypt", monkeypatch=monkeypatch)
    code, _, err = run(capsys, "jupyterhub:create", "hub", "--domain", "hub.example.edu",
                       "--admin", "alice", "--admin", "bob")
    assert code == 0, err
    properties.set("hub", "last-build-status", "ok")
    properties.set("hub", "last-build-time", "2024-05-27T08:00:00Z")
    properties.set("hub", "last-build-image-id", "sha256:abc")
    fake.config["hub"]["HUB_OAUTH_CLIENT_SECRET"] = "oauth-very-secret"
    return fake


def test_stdout_report_in_dokkus_format(hub, capsys):
    code, out, _ = run(capsys, "jupyterhub:report", "hub")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "=====> hub jupyterhub information"
    body = lines[1:]
    # 7 spaces (verbose), "Key name:" padded to the longest flag (32 > 31 columns), sorted
    assert "       Jupyterhub admins count:        2" in body
    assert f"       Jupyterhub data root:           {data_root('hub')}" in body
    assert "       Jupyterhub last build image id: sha256:abc" in body
    assert "       Jupyterhub letsencrypt:         off: dokku letsencrypt:set hub email ADDR " \
           "&& dokku letsencrypt:enable hub" in body
    keys = [line[7:].split(":")[0] for line in body]
    assert keys == sorted(keys)
    values = dict(line[7:].split(":", 1) for line in body)
    assert values["Jupyterhub db kind"].strip() == "postgres"
    assert values["Jupyterhub domains"].strip() == "hub.example.edu"
    assert values["Jupyterhub last build status"].strip() == "ok"
    assert values["Jupyterhub idle timeout"].strip() == "300"
    assert values["Jupyterhub memory limit"].strip() == "350m"
    assert values["Jupyterhub cpu limit"].strip() == "unlimited"
    assert values["Jupyterhub url"].strip() == "http://hub.example.edu/"


def test_secrets_are_masked_everywhere(hub, capsys):
    env = hub.config["hub"]
    secrets = [env["HUB_ADMIN_PASSWORD"], env["HUB_PLUGIN_API_TOKEN"], "oauth-very-secret",
               "secretpw"]
    outputs = [run(capsys, "jupyterhub:report", "hub")[1],
               run(capsys, "jupyterhub:report", "hub", "--format", "json")[1],
               run(capsys, "jupyterhub:report", "hub", "--jupyterhub-admin-password")[1],
               run(capsys, "jupyterhub:report", "hub", "--jupyterhub-database-url")[1]]
    for text in outputs:
        for secret in secrets:
            assert secret not in text
    assert outputs[2].strip() == "********"
    assert outputs[3].strip() == "postgres://postgres:********@dokku-postgres-hub-db:5432/hub-db"


def test_json_report(hub, capsys):
    code, out, _ = run(capsys, "jupyterhub:report", "hub", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["admins-count"] == "2" and data["db-kind"] == "postgres"
    assert data["oauth-client-secret"] == "********"
    assert set(data) == {f.removeprefix("--jupyterhub-") for f in report.values("hub")}
    assert '": "' not in out  # compact, as Dokku's json.Marshal


def test_single_flag_prints_the_raw_value(hub, capsys):
    assert run(capsys, "jupyterhub:report", "hub", "--jupyterhub-admins-count")[1] == "2\n"
    assert run(capsys, "--app", "hub", "jupyterhub:report",
               "--jupyterhub-db-kind")[1] == "postgres\n"


def test_the_last_server_that_died_starting_is_reported(hub, capsys):
    from dokku_jupyterhub.paths import data_root

    flag = "--jupyterhub-last-spawn-failure"
    assert run(capsys, "jupyterhub:report", "hub", flag)[1] == "\n"
    (data_root("hub") / "last-spawn-failure.json").write_text(json.dumps(
        {"user": "bob", "reason": "out of memory", "time": "2026-12-01T08:00:00Z"}))
    assert run(capsys, "jupyterhub:report", "hub", flag)[1] == (
        "2026-12-01T08:00:00Z bob: out of memory\n")


def test_unknown_flag_lists_the_valid_ones(hub, capsys):
    code, _, err = run(capsys, "jupyterhub:report", "hub", "--jupyterhub-colour")
    assert code == 1
    assert err.startswith(" !     Invalid flag passed, valid flags: --jupyterhub-admin-password, ")
    assert "--jupyterhub-url" in err


@pytest.mark.parametrize(("args", "words"), [
    (("hub", "--jupyterhub-url", "--jupyterhub-domains"), "allows only a single flag"),
    (("hub", "--jupyterhub-url", "--format", "json"), "--format flag cannot be specified"),
    (("hub", "--format", "yaml"), "Invalid value for '--format'"),
    (("blog",), "blog is not a jupyterhub app"),
])
def test_report_refusals(hub, capsys, args, words):
    code, _, err = run(capsys, "jupyterhub:report", *args)
    assert code != 0 and words in err


def test_no_app_reports_every_hub_app(hub, capsys):
    assert run(capsys, "jupyterhub:create", "lab", "--admin", "carol", "--no-deploy")[0] == 0
    code, out, _ = run(capsys, "jupyterhub:report")
    assert code == 0
    assert "=====> hub jupyterhub information" in out
    assert "=====> lab jupyterhub information" in out


def test_report_trigger_prints_the_section_for_hub_apps_only(hub, capsys):
    assert report_trigger.main(["hub"]) == 0
    assert "=====> hub jupyterhub information" in capsys.readouterr().out
    hub.apps.add("blog")
    assert report_trigger.main(["blog"]) == 0
    assert capsys.readouterr().out == ""


def test_report_trigger_never_breaks_dokku_report(hub, capsys):
    hub.fail_cmd = "config:export"
    assert report_trigger.main(["hub"]) == 0
    assert "jupyterhub report:" in capsys.readouterr().err


POLICY_FLAGS = ("admins-count", "groups-count", "memory-limit", "cpu-limit")


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "not valid JSON"),
    ('{"version": 1, "admins": "alice"}', "admins must be a list"),
])
def test_a_corrupt_policy_still_reports_everything_else(hub, capsys, text, reason):
    (data_root("hub") / "policy.json").write_text(text)
    code, out, err = run(capsys, "jupyterhub:report", "hub")
    assert code == 0, err
    values = {k.strip(): v.strip() for k, v in
              (line[7:].split(":", 1) for line in out.splitlines()[1:])}
    for flag in POLICY_FLAGS:
        key = "Jupyterhub " + flag.replace("-", " ")
        assert values[key].startswith("invalid policy: ") and reason in values[key], values[key]
    assert values["Jupyterhub db kind"] == "postgres"
    assert values["Jupyterhub domains"] == "hub.example.edu"
    assert values["Jupyterhub admin password"] == "********"

    code, out, _ = run(capsys, "jupyterhub:report", "hub", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["db-kind"] == "postgres"
    assert all(data[f].startswith("invalid policy: ") for f in POLICY_FLAGS)

    for flag in POLICY_FLAGS:
        code, out, err = run(capsys, "jupyterhub:report", "hub", f"--jupyterhub-{flag}")
        assert code == 1 and out == ""
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(" !     ") and reason in lines[0]
    assert run(capsys, "jupyterhub:report", "hub", "--jupyterhub-db-kind")[:2] == (
        0, "postgres\n")

    assert report_trigger.main(["hub"]) == 0
    got = capsys.readouterr()
    assert "Jupyterhub db kind" in got.out and "invalid policy: " in got.out


def test_mask_url_keeps_what_is_not_secret():
    assert report.mask_url("postgres://u:p@h:5432/d?x=1") == "postgres://u:********@h:5432/d?x=1"
    assert report.mask_url("postgres://h/d") == "postgres://h/d"
    assert report.mask_url("") == ""
