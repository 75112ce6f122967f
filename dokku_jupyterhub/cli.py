"""Entry point of every `dokku jupyterhub:*` command.

Dokku passes argv as typed (`jupyterhub:create app --domain x`). Global flags (`--quiet`,
`--trace`, `--app X`) may stand anywhere; they are taken out here and turned into Dokku's
environment variables. Commands are click commands found in `dokku_jupyterhub.cmds.*`
(each module lists its own in `COMMANDS`), so a capability adds a module and nothing else.
"""

from __future__ import annotations

import errno
import importlib
import os
import pkgutil
import sys
import traceback
from dataclasses import dataclass

import click

from dokku_jupyterhub import PLUGIN_NAME
from dokku_jupyterhub.hub_runtime.policy import PolicyError
from dokku_jupyterhub.output import DokkuError, warn


@dataclass
class GlobalFlags:
    quiet: bool = False
    trace: bool = False
    app: str | None = None


def split_global_flags(argv: list[str]) -> tuple[list[str], GlobalFlags]:
    """Remove Dokku's global flags from anywhere in argv (`--force` stays: commands use it)."""
    flags = GlobalFlags()
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--quiet":
            flags.quiet = True
        elif arg == "--trace":
            flags.trace = True
        elif arg == "--app":
            flags.app = next(it, None)
        elif arg.startswith("--app="):
            flags.app = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return rest, flags


def registry() -> dict[str, click.Command]:
    """Every subcommand by name (`create`, `admins:add`, ...), in module order."""
    from dokku_jupyterhub import cmds

    found: dict[str, click.Command] = {}
    for info in sorted(pkgutil.iter_modules(cmds.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{cmds.__name__}.{info.name}")
        for cmd in getattr(module, "COMMANDS", ()):
            assert cmd.name not in found, f"duplicate command {cmd.name}"
            found[cmd.name] = cmd
    return found


def takes_app(cmd: click.Command) -> bool:
    args = [p for p in cmd.params if isinstance(p, click.Argument)]
    return bool(args) and args[0].name == "app"


def main(argv: list[str] | None = None) -> None:
    argv, flags = split_global_flags(list(sys.argv[1:] if argv is None else argv))
    if flags.quiet:
        os.environ["DOKKU_QUIET_OUTPUT"] = "1"
    if flags.trace:
        os.environ["DOKKU_TRACE"] = "1"
    trace = bool(os.environ.get("DOKKU_TRACE"))
    typed = argv[0] if argv else PLUGIN_NAME
    rest = argv[1:]
    name = typed.split(":", 1)[1] if ":" in typed else "help"
    try:
        cmd = registry().get(name)
        if cmd is None:
            raise DokkuError(f"`{typed}` is not a dokku command.")
        app = flags.app or os.environ.get("DOKKU_APP_NAME")
        positional = [a for a in rest if not a.startswith("-")]
        if app and takes_app(cmd) and (not positional or positional[0] != app):
            rest = [app, *rest]
        # A command may return an exit code (e.g. 1 for "not found" checks).
        rv = cmd.main(args=rest, prog_name=f"dokku {typed}", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            sys.exit(rv)
    except DokkuError as exc:
        if trace:
            traceback.print_exc()
        warn(exc.message)
        sys.exit(exc.exit_code)
    except PolicyError as exc:
        # Bad names, limits or policy changes, from the pure policy code: the one place
        # they become Dokku's one-line error.
        if trace:
            traceback.print_exc()
        warn(str(exc))
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        warn("Aborted")
        sys.exit(1)
    except click.ClickException as exc:
        warn(exc.format_message())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        warn("Interrupted")
        sys.exit(130)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            exit_unexpected(exc, trace)
        where = f" on {os.path.dirname(exc.filename)}" if exc.filename else ""
        warn(f"no space left{where}: the command stopped before finishing; free some space "
             "and run it again")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback only on --trace
        exit_unexpected(exc, trace)
    sys.exit(0)


def exit_unexpected(exc: BaseException, trace: bool) -> None:
    """The last resort: one line, the traceback only with --trace."""
    if trace:
        traceback.print_exc()
    warn(f"Unexpected error: {type(exc).__name__}: {exc} (rerun with --trace for details)")
    sys.exit(1)
