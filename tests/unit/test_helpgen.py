"""helpgen renders what is written down twice from its one source, and `--check` catches a
README whose generated sections no longer match the code."""

from __future__ import annotations

import pytest

from dokku_jupyterhub import create_plan, helpgen, setting_keys


@pytest.fixture
def readme(tmp_path, monkeypatch):
    copy = tmp_path / "README.md"
    copy.write_text(helpgen.README.read_text())
    monkeypatch.setattr(helpgen, "README", copy)
    return copy


def test_the_checkout_is_current():
    assert helpgen.stale() == []


def test_the_create_steps_and_the_settings_table_come_from_the_code(readme):
    text = readme.read_text()
    for n, step in enumerate(create_plan.STEPS, 1):
        assert f"\n{n}. {step}\n" in text
    for key in setting_keys.SETTINGS:
        assert f"| `{key}` |" in text


@pytest.mark.parametrize("section", ["create-steps", "settings", "commands"])
def test_a_stale_section_is_reported_and_rewritten(readme, section):
    begin, end = helpgen._markers(section)
    text = readme.read_text()
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\nedited by hand\n{end}{tail}")
    assert any(p.startswith("README.md") for p in helpgen.stale())
    readme.write_text(helpgen._readme_text())
    assert not any(p.startswith("README.md") for p in helpgen.stale())
    assert readme.read_text() == text


def test_a_missing_marker_is_stale(readme):
    readme.write_text(readme.read_text().replace("<!-- settings:end -->", ""))
    assert any(p.startswith("README.md") for p in helpgen.stale())
