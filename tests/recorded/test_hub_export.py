"""`dokku jupyterhub:export <app> [DIR]`: the same files the default deploy uses."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest

from dokku_jupyterhub import cli, hub_source, properties


@pytest.fixture
def app(dokku_env):
    properties.set("hub", "hub-app", "true")
    properties.set("hub", "hub-base-image", "mirror.local/jupyterhub:6.1.1")
    return "hub"


def run(*argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["jupyterhub:export", *argv])
    return exit_info.value.code


def test_export_to_a_directory(app, tmp_path, capsys):
    dest = tmp_path / "src"
    assert run(app, str(dest)) == 0
    files = hub_source.render_files(hub_source.params_for(app))
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == sorted(files)
    for path, content in files.items():
        assert (dest / path).read_bytes() == content
    assert "mirror.local/jupyterhub:6.1.1" in (dest / "Dockerfile").read_text()
    assert "Exported the hub source of hub" in capsys.readouterr().out


def test_non_empty_directory_needs_force(app, tmp_path, capsys):
    dest = tmp_path / "repo"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    assert run(app, str(dest)) == 1
    err = capsys.readouterr().err
    assert err.startswith(" !     ") and "is not empty" in err
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]
    assert run(app, str(dest), "--force") == 0
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "jupyterhub_config.py").is_file()


def test_tar_on_stdout_is_deterministic(app, capsysbinary):
    assert run(app, "-") == 0
    first = capsysbinary.readouterr().out
    assert run(app) == 0  # stdout is not a terminal here
    second = capsysbinary.readouterr().out
    rendered = hub_source.render_files(hub_source.params_for(app))
    assert first == second == hub_source.to_tar(rendered, top=app)
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert {m.name.split("/")[0] for m in tar.getmembers()} == {"hub"}
        assert tar.extractfile("hub/images/Dockerfile").read().startswith(b"#")


def test_terminal_without_dir_is_refused(app, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert run(app) == 1
    assert "redirect stdout" in capsys.readouterr().err


def test_not_a_hub_app(dokku_env, tmp_path, capsys):
    assert run("plain", str(tmp_path / "x")) == 1
    assert capsys.readouterr().err == " !     plain is not a jupyterhub app\n"
    assert not (tmp_path / "x").exists()


def test_file_in_the_way_is_refused(app, tmp_path, capsys):
    dest = tmp_path / "f"
    dest.write_text("x")
    assert run(app, str(dest)) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_a_folder_the_dokku_user_cannot_enter_is_one_clear_line():
    """Dokku runs the command as the dokku user in the caller's working directory: from
    root's own 0700 home the destination cannot even be looked at."""
    import os
    import pwd
    import shutil
    import subprocess
    import tempfile

    from support.dokkuuser import require_dokku_user

    require_dokku_user()
    dokku = pwd.getpwnam("dokku")
    tmp_path = Path(tempfile.mkdtemp(prefix="djh-export-", dir="/tmp"))
    tmp_path.chmod(0o755)
    lib = tmp_path / "lib"
    (lib / "config" / "jupyterhub" / "hub").mkdir(parents=True)
    (lib / "config" / "jupyterhub" / "hub" / "hub-app").write_text("true")
    for d in [tmp_path, *tmp_path.rglob("*")]:
        os.chown(d, dokku.pw_uid, dokku.pw_gid)
    private = tmp_path / "root-home"
    private.mkdir(mode=0o700)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        ["setpriv", "--reuid=dokku", "--regid=dokku", "--init-groups", "--",
         sys.executable, "-m", "dokku_jupyterhub", "jupyterhub:export", "hub",
         str(private / "hub-src")],
        cwd="/", capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(root), "DOKKU_LIB_ROOT": str(lib)},
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(" !     cannot write ")
    assert "permission denied" in done.stderr and "| tar -x" in done.stderr
    assert not (private / "hub-src").exists()
    shutil.rmtree(tmp_path)


def test_never_into_dokkus_home_where_every_folder_is_an_app(app, dokku_env, capsys):
    """Over ssh a relative DIR is resolved in the dokku user's home: Dokku would list it as
    an app."""
    home = dokku_env.parent / "home"
    assert run(app, str(home / "hub-src")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "where Dokku takes every folder for an app" in err
    assert "dokku jupyterhub:export hub | tar -x" in err
    assert not (home / "hub-src").exists()


@pytest.mark.parametrize("link", ["images", ".", "images/Dockerfile"])
def test_export_never_writes_through_a_symlink(app, tmp_path, capsys, link):
    """DIR itself, a folder in it or a file in it a link to somewhere else: refused, and
    nothing is written there."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest = tmp_path / "src"
    if link == ".":
        dest.symlink_to(elsewhere, target_is_directory=True)
    else:
        (dest / "images").mkdir(parents=True)
        if link == "images":
            (dest / "images").rmdir()
        (dest / link).symlink_to(elsewhere)
    assert run(app, str(dest), "--force") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "symbolic link" in err
    assert list(elsewhere.iterdir()) == []
