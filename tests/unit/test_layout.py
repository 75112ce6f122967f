"""The package's shape: imports run one way (commands and triggers stand on the same lower
modules; no lower module imports a higher one; what ships inside the hub imports nothing of
the plugin), and no path that Dokku would take for a plugin's `commands`."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dokku_jupyterhub"


def imports_of(path: Path) -> set[str]:
    """The `dokku_jupyterhub.*` modules a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("dokku_jupyterhub")}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("hub_runtime", "cmds", "triggers"):
        return parts[1]
    if len(parts) > 1 and parts[1] in ("cli", "helpgen", "__main__"):
        return "frame"
    return "lower"


# Which layers each layer may import.
ALLOWED = {
    "hub_runtime": {"hub_runtime"},
    "lower": {"lower", "hub_runtime"},
    "cmds": {"lower", "hub_runtime", "cmds"},
    "triggers": {"lower", "hub_runtime", "triggers"},
    "frame": {"lower", "hub_runtime", "cmds", "frame"},
}
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path):
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    own = layer(module)
    for imported in imports_of(path):
        if imported in ("dokku_jupyterhub",):
            continue
        target = layer(imported)
        assert target in ALLOWED[own], f"{module} ({own}) imports {imported} ({target})"


def test_cmds_holds_only_click_commands():
    """Every public function of a command module is a command; what other modules need
    lives below cmds/."""
    for path in (PACKAGE / "cmds").glob("*.py"):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                decorators = [ast.unparse(d) for d in node.decorator_list]
                assert any(d.startswith("click.command") for d in decorators), (
                    f"{path.name}: {node.name} is not a command: move it below cmds/ or make "
                    "it private")


def test_no_path_dokku_would_run_as_commands():
    """Dokku's help runs every path named `commands` under plugins/enabled (files and
    directories alike): only the plugin's own top-level `commands` may have that name."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    named = {f for f in files if "commands" in Path(f).parts}
    assert named == {"commands"}
