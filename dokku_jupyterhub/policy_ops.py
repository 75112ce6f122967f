"""Pure changes to a policy document, one function per command.

Each operation takes a policy document and returns a `PolicyChange`: a NEW document (the input is
never mutated) and the lines to tell the user, split into what was done and what was already
so. Bad input raises `policy.PolicyError` before anything is computed, so a command that
validates through these functions changes nothing on error. Validation of the whole document
(schema, host limits) stays in `hub_runtime.policy.validate`, which the store runs before writing.

Names are normalised the way the hub will see them: JupyterHub lowercases usernames by
default (`Authenticator.normalize_username`), so `Alice` is stored as `alice` and the command
says so; with Azure AD the hub applies the old setup's rule
(`hub_runtime.names.azure_username`) to the principal, so an address typed as
`Alice.Smith@school.org` is stored as the hub username `alice-smith--school-org`. Anything
still unsafe afterwards (`/`, `..`, a leading `.`, whitespace, control characters) is
refused, never rewritten into something else.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dokku_jupyterhub.hub_runtime import policy
from dokku_jupyterhub.hub_runtime.contract import DEFAULT_MEMORY
from dokku_jupyterhub.hub_runtime.names import azure_username, is_safe_name
from dokku_jupyterhub.hub_runtime.policy import PolicyError

_NAME_RULE = "use letters, digits and . _ @ + - starting with a letter or digit (at most 64)"


@dataclass(frozen=True)
class PolicyChange:
    doc: dict[str, Any]
    done: tuple[str, ...] = ()  # what changed, one line each
    unchanged: tuple[str, ...] = ()  # what was already so


@dataclass(frozen=True)
class Name:
    """A name as the user typed it and as it is stored, with why they differ."""

    typed: str
    name: str
    why: str = "JupyterHub lowercases usernames"

    @property
    def note(self) -> str | None:
        if self.typed == self.name:
            return None
        return f"{self.typed} is written as {self.name}: {self.why}"


@dataclass(frozen=True)
class Target:
    """Whose limits: `default`, a `user` or a `group` (typed as `@group`)."""

    kind: str
    name: str | None = None
    typed: str | None = None

    def label(self) -> str:
        if self.kind == "default":
            return "the default"
        return f"@{self.name}" if self.kind == "group" else str(self.name)


@dataclass
class _Log:
    done: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def change(self, doc: dict[str, Any]) -> PolicyChange:
        return PolicyChange(doc, tuple(self.done), tuple(self.unchanged))


# ---- names ------------------------------------------------------------------------------


def normalise_user(typed: str, provider: str | None = None) -> Name:
    """The hub username for `typed`; raises PolicyError when it cannot be a safe name."""
    raw = typed.strip()
    if provider == "azuread":
        name, why = azure_username(raw), "the hub's Azure AD username rule"
    else:
        name, why = raw.lower(), "JupyterHub lowercases usernames"
    if not raw or not is_safe_name(name):
        raise PolicyError(f"invalid username {typed!r}: {_NAME_RULE}")
    return Name(typed, name, why)


def normalise_group(typed: str) -> Name:
    raw = typed.strip()
    name = raw.lower()
    if not raw or not is_safe_name(name):
        raise PolicyError(f"invalid group name {typed!r}: {_NAME_RULE}")
    return Name(typed, name, "group names are lowercase")


def normalise_users(typed: Iterable[str], provider: str | None = None) -> list[Name]:
    """All names checked before any is used; duplicates after normalisation dropped."""
    seen: dict[str, Name] = {}
    for t in typed:
        n = normalise_user(t, provider)
        seen.setdefault(n.name, n)
    if not seen:
        raise PolicyError("name at least one user")
    return list(seen.values())


def parse_target(typed: str | None, default: bool, provider: str | None = None) -> Target:
    """`<user>`, `@<group>` or `--default` (exactly one)."""
    if default and typed:
        raise PolicyError("give either a user, an @group or --default, not both")
    if default:
        return Target("default")
    if not typed:
        raise PolicyError("name a user, an @group or --default")
    if typed.startswith("@"):
        return Target("group", normalise_group(typed[1:]).name, typed)
    return Target("user", normalise_user(typed, provider).name, typed)


# ---- admins and allowed users -----------------------------------------------------------


def _add_names(doc: dict[str, Any], key: str, names: list[Name], what: str) -> PolicyChange:
    new, log = copy.deepcopy(doc), _Log()
    have = set(new.get(key, []))
    for n in names:
        if n.name in have:
            log.unchanged.append(f"{n.name} is already {what}")
        else:
            have.add(n.name)
            log.done.append(f"Added {n.name} as {what}")
    new[key] = sorted(have)
    return log.change(new)


def _remove_names(doc: dict[str, Any], key: str, names: list[Name], what: str) -> PolicyChange:
    new, log = copy.deepcopy(doc), _Log()
    have = set(new.get(key, []))
    for n in names:
        if n.name in have:
            have.discard(n.name)
            log.done.append(f"Removed {n.name} as {what}")
        else:
            log.unchanged.append(f"{n.name} is not {what}")
    new[key] = sorted(have)
    return log.change(new)


def add_admins(doc: dict[str, Any], names: list[Name]) -> PolicyChange:
    return _add_names(doc, "admins", names, "an admin")


def remove_admins(doc: dict[str, Any], names: list[Name]) -> PolicyChange:
    return _remove_names(doc, "admins", names, "an admin")


def add_users(doc: dict[str, Any], names: list[Name]) -> PolicyChange:
    return _add_names(doc, "users", names, "an allowed user")


def remove_users(doc: dict[str, Any], names: list[Name]) -> PolicyChange:
    return _remove_names(doc, "users", names, "an allowed user")


def initial_policy(
    doc: dict[str, Any], admins: Iterable[str], memory: str | None = None,
    host_memory: int | None = None,
) -> PolicyChange:
    """What `create` writes: its admins (already hub usernames) added, and the default
    memory set when given."""
    names = [Name(a, a) for a in admins]
    change = add_admins(doc, names) if names else PolicyChange(copy.deepcopy(doc))
    if memory:
        limit = set_limits(change.doc, Target("default"), memory=memory, host_memory=host_memory)
        change = PolicyChange(limit.doc, change.done + limit.done,
                              change.unchanged + limit.unchanged)
    return change


# ---- groups -----------------------------------------------------------------------------


def require_group(doc: dict[str, Any], group: str) -> dict[str, Any]:
    groups = doc.get("groups", {})
    if group not in groups:
        known = ", ".join(sorted(groups)) or "none yet"
        raise PolicyError(f"unknown group {group} (groups: {known})")
    return groups[group]


def create_group(doc: dict[str, Any], group: Name, mode: str | None = None) -> PolicyChange:
    """New group (members read-only unless `mode` says rw); an existing one keeps its members
    and only takes a mode that is given explicitly."""
    if mode is not None and mode not in policy.MODES:
        raise PolicyError("members mode must be ro or rw")
    new, log = copy.deepcopy(doc), _Log()
    groups = new.setdefault("groups", {})
    spec = groups.get(group.name)
    if spec is None:
        groups[group.name] = {"members_mode": mode or "ro", "members": []}
        log.done.append(f"Created group {group.name} (members {mode or 'ro'})")
    elif mode is None or spec.get("members_mode", "ro") == mode:
        log.unchanged.append(
            f"Group {group.name} already exists (members {spec.get('members_mode', 'ro')})"
        )
    else:
        log.done.append(
            f"Group {group.name} already exists: members mode changed from "
            f"{spec.get('members_mode', 'ro')} to {mode}"
        )
        spec["members_mode"] = mode
    return log.change(new)


def destroy_group(doc: dict[str, Any], group: Name) -> PolicyChange:
    require_group(doc, group.name)
    new, log = copy.deepcopy(doc), _Log()
    members = new["groups"].pop(group.name).get("members", [])
    log.done.append(f"Destroyed group {group.name} ({len(members)} member(s) removed from it)")
    if new.get("limits", {}).get("groups", {}).pop(group.name, None) is not None:
        log.done.append(f"Removed the limits of @{group.name}")
    return log.change(new)


def add_members(doc: dict[str, Any], group: Name, names: list[Name]) -> PolicyChange:
    require_group(doc, group.name)
    new, log = copy.deepcopy(doc), _Log()
    spec = new["groups"][group.name]
    have = set(spec.get("members", []))
    for n in names:
        if n.name in have:
            log.unchanged.append(f"{n.name} is already a member of {group.name}")
        else:
            have.add(n.name)
            log.done.append(f"Added {n.name} to group {group.name}")
    spec["members"] = sorted(have)
    return log.change(new)


def remove_members(doc: dict[str, Any], group: Name, names: list[Name]) -> PolicyChange:
    require_group(doc, group.name)
    new, log = copy.deepcopy(doc), _Log()
    spec = new["groups"][group.name]
    have = set(spec.get("members", []))
    for n in names:
        if n.name in have:
            have.discard(n.name)
            log.done.append(f"Removed {n.name} from group {group.name}")
        else:
            log.unchanged.append(f"{n.name} is not a member of {group.name}")
    spec["members"] = sorted(have)
    return log.change(new)


# ---- limits -----------------------------------------------------------------------------


def _limit_slot(limits: dict[str, Any], target: Target) -> tuple[dict[str, Any], str]:
    if target.kind == "default":
        return limits, "default"
    return limits.setdefault(f"{target.kind}s", {}), str(target.name)


def check_limit_values(
    memory: str | None,
    cpu: str | float | None,
    host_memory: int | None = None,
    host_cpus: int | None = None,
) -> tuple[str | None, float | None]:
    """The memory and cpu to set, checked (at least one given, within the host's size)."""
    if memory is None and cpu is None:
        raise PolicyError("give --memory and/or --cpu")
    mem = policy.check_memory(memory, host_memory, new=True) if memory is not None else None
    cores = policy.check_cpu(cpu, host_cpus) if cpu is not None else None
    return mem, cores


def set_limits(
    doc: dict[str, Any],
    target: Target,
    memory: str | None = None,
    cpu: str | float | None = None,
    host_memory: int | None = None,
    host_cpus: int | None = None,
) -> PolicyChange:
    """Set memory and/or cpu for `target`; values checked against the host's size."""
    mem, cores = check_limit_values(memory, cpu, host_memory, host_cpus)
    if target.kind == "group":
        require_group(doc, str(target.name))
    new, log = copy.deepcopy(doc), _Log()
    slots, key = _limit_slot(new.setdefault("limits", {}), target)
    entry = dict(slots.get(key) or {})
    for field_name, value, shown in (("memory", mem, mem), ("cpu", cores, cpu_text(cores))):
        if value is None:
            continue
        if field_name in entry and _same(field_name, entry[field_name], value):
            what = f"{field_name.capitalize()} of {target.label()}"
            log.unchanged.append(f"{what} is already {shown}")
        else:
            entry[field_name] = value
            log.done.append(f"Set {field_name} of {target.label()} to {shown}")
    slots[key] = entry
    return log.change(new)


def unset_limits(
    doc: dict[str, Any], target: Target, memory: bool = False, cpu: bool = False
) -> PolicyChange:
    """Remove memory and/or cpu of `target` (both when neither is named)."""
    both = not memory and not cpu
    if both:
        memory = cpu = True
    limits = doc.get("limits", {})
    if (
        target.kind == "group"
        and target.name not in doc.get("groups", {})
        and target.name not in limits.get("groups", {})
    ):
        require_group(doc, str(target.name))
    new, log = copy.deepcopy(doc), _Log()
    slots, key = _limit_slot(new.setdefault("limits", {}), target)
    entry = dict(slots.get(key) or {})
    for field_name, wanted in (("memory", memory), ("cpu", cpu)):
        if not wanted:
            continue
        if target.kind == "default" and field_name == "memory":
            # The default memory always exists: unsetting it restores DEFAULT_MEMORY, so
            # the "largest wins" rule keeps a floor.
            if entry.get("memory") == DEFAULT_MEMORY:
                if not both:
                    log.unchanged.append(
                        f"Memory of the default is already {DEFAULT_MEMORY}"
                    )
            else:
                entry["memory"] = DEFAULT_MEMORY
                log.done.append(f"Reset memory of the default to {DEFAULT_MEMORY}")
        elif field_name in entry:
            del entry[field_name]
            log.done.append(f"Unset {field_name} of {target.label()}")
        elif not both:
            log.unchanged.append(f"{target.label()} has no {field_name} limit")
    if both and not log.done:
        log.unchanged.append(f"{target.label()} has no limits")
    if target.kind == "default" or entry:
        slots[key] = entry
    else:
        slots.pop(key, None)  # no empty entries left behind for users and groups
    return log.change(new)


def no_effect(doc: dict[str, Any], target: Target) -> list[str]:
    """Why a limit `target` has in `doc` gives nobody anything (the largest limit that
    applies wins): one line for each of its values that another rule outbids."""
    if target.kind == "default":
        return []
    limits = doc.get("limits", {})
    entry = limits.get(f"{target.kind}s", {}).get(str(target.name), {})
    default = limits.get("default", {})
    floor_memory = default.get("memory") or DEFAULT_MEMORY
    who = target.label()
    if target.kind == "user":
        memory, cpu = policy.limits_for(doc, str(target.name))
    else:  # a member of the group with no other rule: the group's limit against the default
        memory = max((floor_memory, entry.get("memory") or floor_memory), key=policy.parse_memory)
        cpus = [float(c) for c in (default.get("cpu"), entry.get("cpu")) if c]
        cpu = max(cpus) if cpus else None
    lines = []
    if entry.get("memory") and policy.parse_memory(memory) > policy.parse_memory(entry["memory"]):
        lines.append(f"{who} still gets {memory} of memory, not {entry['memory']}: the largest "
                     "limit that applies wins (see dokku jupyterhub:users:list)")
    if entry.get("cpu") and cpu is not None and cpu > float(entry["cpu"]):
        lines.append(f"{who} still gets {cpu_text(cpu)} CPU, not {cpu_text(entry['cpu'])}: the "
                     "largest limit that applies wins (see dokku jupyterhub:users:list)")
    return lines


def set_default_limit(
    doc: dict[str, Any],
    field_name: str,
    value: str,
    host_memory: int | None = None,
    host_cpus: int | None = None,
) -> PolicyChange:
    """The default's `memory` or `cpu` set to `value`, or unset when it is empty, exactly as
    `limits:set --default` and `limits:unset --default` do (`set memory-limit` and
    `set cpu-limit` are the same change)."""
    default = Target("default")
    if not value:
        return unset_limits(doc, default, memory=field_name == "memory", cpu=field_name == "cpu")
    if field_name == "memory":
        return set_limits(doc, default, memory=value, host_memory=host_memory)
    return set_limits(doc, default, cpu=value, host_cpus=host_cpus)


def _same(field_name: str, old: Any, new: Any) -> bool:
    if field_name == "memory":
        return policy.parse_memory(old) == policy.parse_memory(new)
    return float(old) == float(new)


def cpu_text(cpu: float | None) -> str:
    """`2` rather than `2.0`; `-` for no limit."""
    if cpu is None:
        return "-"
    return str(int(cpu)) if float(cpu).is_integer() else str(cpu)


# ---- views ------------------------------------------------------------------------------


def named_users(doc: dict[str, Any]) -> list[str]:
    """Every user the policy names: admins, allowed users, group members, users with limits."""
    names = set(doc.get("admins", [])) | set(doc.get("users", []))
    for spec in doc.get("groups", {}).values():
        names |= set(spec.get("members", []))
    names |= set(doc.get("limits", {}).get("users", {}))
    return sorted(names)
