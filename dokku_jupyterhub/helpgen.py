"""Generate, from their one source, what is written down twice: from the click commands the
help text that bash `commands` prints without starting Python, the `subcommands/` links and
README's command reference; README's "What `create` does" steps from `create_plan.STEPS`;
README's settings table from `setting_keys.SETTINGS`.

    python -m dokku_jupyterhub.helpgen          # write them
    python -m dokku_jupyterhub.helpgen --check  # exit 1 when any is stale (run by the tests)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from dokku_jupyterhub import PLUGIN_NAME
from dokku_jupyterhub.cli import registry

ROOT = Path(__file__).resolve().parent.parent
HELP_FILE = ROOT / "dokku_jupyterhub" / "help.txt"
SUBCOMMANDS = ROOT / "subcommands"
SHIM = "../lib/subcommand"
README = ROOT / "README.md"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def usage(cmd: click.Command) -> str:
    """`<app> <user>... [--memory SIZE]`; a command may set `dokku_usage` to override."""
    override = getattr(cmd, "dokku_usage", None)
    if override:
        return override
    parts: list[str] = []
    for p in cmd.params:
        if isinstance(p, click.Argument):
            word = f"<{p.name.replace('_', '-')}>"
            if p.nargs == -1:
                word += "..."
            parts.append(word if p.required else f"[{word}]")
        elif isinstance(p, click.Option) and not p.hidden:
            flag = max(p.opts, key=len)
            if p.is_flag:
                word = f"[{flag}]"
            else:
                word = f"[{flag} {p.metavar or p.name.upper().replace('_', '-')}]"
            parts.append(word + ("..." if p.multiple else ""))
    return " ".join(parts)


def help_lines() -> list[str]:
    lines = []
    for name, cmd in registry().items():
        desc = (cmd.short_help or (cmd.help or "").strip().splitlines()[0]).rstrip(".")
        text = f"    {PLUGIN_NAME}:{name} {usage(cmd)}".rstrip() + f", {desc}"
        assert text.count(",") == 1, f"no commas in usage or description of {name}"
        lines.append(text)
    return lines


def _cell(text: str) -> str:
    return text.replace("|", chr(92) + "|")


def commands_section() -> list[str]:
    rows = ["| command | what it does |", "|---|---|"]
    for line in help_lines():
        cmd, desc = line.strip().split(", ", 1)
        rows.append(f"| `dokku {_cell(cmd)}` | {desc} |")
    return rows


def create_steps_section() -> list[str]:
    from dokku_jupyterhub.create_plan import STEPS

    return [f"{n}. {step}" for n, step in enumerate(STEPS, 1)]


def settings_section() -> list[str]:
    from dokku_jupyterhub.setting_keys import SETTINGS

    rows = ["| key | what it is | kept in | takes effect | `--global` |", "|---|---|---|---|---|"]
    for s in SETTINGS.values():
        rows.append(f"| `{s.key}` | {_cell(s.means)} | {_cell(s.lives)} | {s.effect} | "
                    f"{'yes' if s.global_ok else 'no'} |")
    return rows


# README section name -> its lines, each between `<!-- name:begin -->` and `<!-- name:end -->`.
README_SECTIONS = {
    "commands": commands_section,
    "create-steps": create_steps_section,
    "settings": settings_section,
}


def _wanted_links() -> set[str]:
    return set(registry()) | {"default"}


def _readme_text() -> str | None:
    """README with every generated section rendered anew; None when a marker is missing."""
    if not README.exists():
        return None
    text = README.read_text()
    for name, render in README_SECTIONS.items():
        begin, end = _markers(name)
        if begin not in text or end not in text:
            return None
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + "\n".join([begin, *render(), end]) + tail
    return text


def stale() -> list[str]:
    problems = []
    if not HELP_FILE.exists() or HELP_FILE.read_text() != "\n".join(help_lines()) + "\n":
        problems.append(str(HELP_FILE.relative_to(ROOT)))
    have = {p.name for p in SUBCOMMANDS.iterdir()} if SUBCOMMANDS.is_dir() else set()
    if have != _wanted_links() or any(
        os.readlink(SUBCOMMANDS / n) != SHIM for n in have if (SUBCOMMANDS / n).is_symlink()
    ) or any(not (SUBCOMMANDS / n).is_symlink() for n in have):
        problems.append("subcommands/")
    new_readme = _readme_text()
    if new_readme is None or new_readme != README.read_text():
        problems.append("README.md (the generated sections between their markers)")
    return problems


def write() -> None:
    HELP_FILE.write_text("\n".join(help_lines()) + "\n")
    SUBCOMMANDS.mkdir(exist_ok=True)
    for p in SUBCOMMANDS.iterdir():
        if p.name not in _wanted_links() or not p.is_symlink():
            p.unlink()
    for name in _wanted_links():
        link = SUBCOMMANDS / name
        if link.is_symlink() and os.readlink(link) == SHIM:
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(SHIM)
    new_readme = _readme_text()
    if new_readme is not None:
        README.write_text(new_readme)


def main() -> None:
    if "--check" in sys.argv[1:]:
        problems = stale()
        if problems:
            print("stale, run `python -m dokku_jupyterhub.helpgen`: " + ", ".join(problems))
            sys.exit(1)
        return
    write()


if __name__ == "__main__":
    main()
