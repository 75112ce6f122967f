"""The Dokku stand-in from pytest.

    from standin.standin import Standin

    @pytest.fixture
    def standin(monkeypatch):                      # fresh host, env pointed at it
        host = Standin.create()                    # Standin.create(("postgres",)) adds plugins
        host.apply_env(monkeypatch)
        yield host
        host.destroy()

    def test_something(standin):
        standin.run("apps:create", "hub", check=True)
        dokku_cli.run("config:set", "--no-restart", "hub", "A=1")   # DOKKU_BIN is the stand-in
        assert standin.state.config("hub") == {"A": "1"}

`Standin.create()` makes a host under /tmp (the dokku user must reach it: pytest's tmp_path is
0700), `apply_env(monkeypatch)` points DOKKU_BIN / DOKKU_LIB_ROOT / DOKKU_ROOT / STANDIN_ROOT
at it, `install_plugin()` installs this working tree with `dokku plugin:install file://...`,
`state` is tests/standin/state.py with `root` bound, `calls()` the recorded `dokku` calls.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import types
from pathlib import Path

from . import layout
from . import state as _state

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


class Standin:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.lib_root = self.root / "var/lib/dokku"
        self.dokku_root = self.root / "home/dokku"
        self.dokku = self.root / "usr/bin/dokku"
        self.state = types.SimpleNamespace(**{
            name: functools.partial(fn, root=self.root) for name, fn in _state.QUERIES.items()
        })

    @classmethod
    def create(cls, plugins: tuple[str, ...] = ()) -> Standin:
        root = Path(tempfile.mkdtemp(prefix="djh-standin.", dir="/tmp"))
        layout.make_root(root, plugins)
        return cls(root)

    def destroy(self) -> None:
        if not os.environ.get("STANDIN_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def enable(self, plugin: str) -> None:
        layout.enable_plugin(self.root, plugin)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("DOKKU_APP_NAME", "DOKKU_GLOBAL_FLAGS", "DOKKU_QUIET_OUTPUT", "DOKKU_TRACE"):
            env.pop(name, None)
        env.update(STANDIN_ROOT=str(self.root), DOKKU_BIN=str(self.dokku),
                   DOKKU_LIB_ROOT=str(self.lib_root), DOKKU_ROOT=str(self.dokku_root),
                   PATH=f"{self.root / 'usr/bin'}:{env.get('PATH', '')}")
        env.update(extra)
        return env

    def apply_env(self, monkeypatch) -> None:
        for key, value in self.env().items():
            if key.startswith(("DOKKU_", "STANDIN_")) or key == "PATH":
                monkeypatch.setenv(key, value)
        for name in ("DOKKU_APP_NAME", "DOKKU_GLOBAL_FLAGS", "DOKKU_QUIET_OUTPUT", "DOKKU_TRACE"):
            monkeypatch.delenv(name, raising=False)

    def run(self, *args: str, input: str | None = None, check: bool = False,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`dokku <args>` as the calling user (root re-executes as dokku like Dokku)."""
        proc = subprocess.run([str(self.dokku), *args], input=input, capture_output=True,
                              text=True, env=self.env(**(env or {})))
        if check and proc.returncode:
            raise AssertionError(f"dokku {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}{proc.stderr}")
        return proc

    def checkout(self, source: Path = REPO) -> Path:
        """A git repo of `source`'s working tree (tracked + untracked, not ignored) as it is."""
        dest = self.root / "src/dokku-jupyterhub"
        if (dest / ".git").is_dir():
            return dest
        files = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=source,
                               capture_output=True, check=True).stdout.decode().split("\0")
        for name in filter(None, files):
            src = source / name
            if not (src.exists() or src.is_symlink()):
                continue
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                (dest / name).symlink_to(os.readlink(src))
            else:
                shutil.copy2(src, dest / name)
        git = ["git", "-C", str(dest), "-c", "user.name=standin", "-c", "user.email=s@localhost"]
        subprocess.run([*git, "init", "-q", "--initial-branch=main"], check=True)
        subprocess.run([*git, "add", "--all"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "working tree snapshot"], check=True)
        return dest

    def install_plugin(self, source: Path = REPO, check: bool = True):
        return self.run("plugin:install", f"file://{self.checkout(source)}", check=check)

    def calls(self, command: str | None = None) -> list[dict]:
        return _state.calls(command, root=self.root)
