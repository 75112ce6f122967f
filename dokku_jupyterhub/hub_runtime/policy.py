"""The access policy: admins, groups and their folders, members, and resource limits.

Pure: parse/validate/dump a versioned JSON document and answer, for one user, what the
policy says: admin or not, groups, allowed, effective limits (what a spawn makes of that is
spawn_decision.py). The plugin writes the file (policy_store), the hub
reads it at every spawn. Format (version 1), all keys optional except `version`:

    {
      "version": 1,
      "admins": ["alice"],
      "users": ["bob"],                      # allowed to log in besides admins/group members
      "groups": {"physics": {"members_mode": "ro", "members": ["bob"]}},
      "limits": {
        "default": {"memory": "350m", "cpu": null},
        "users":   {"bob": {"memory": "2G"}},
        "groups":  {"physics": {"memory": "1G", "cpu": 1.5}}
      }
    }
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from .contract import DEFAULT_MEMORY
from .names import is_safe_name

VERSION = 1
MODES = ("ro", "rw")
# Docker's CPU quota is at least 1 ms per 100 ms period.
MIN_CPU = 0.01
# The least memory a new limit may give a user's server. Measured on the generated notebook
# image: a started server uses about 64 MiB, about 100 MiB with one kernel, and a 96m
# container is killed when its first kernel starts. (Limits already in a policy file are
# only held to Docker's 6m, so an older file stays readable.)
MIN_SERVER_MEMORY = "128m"

_MEMORY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([bkmg]?)$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_TOP_KEYS = {"version", "admins", "users", "groups", "limits"}
_LIMIT_KEYS = {"memory", "cpu"}


class PolicyError(ValueError):
    """The policy document, or a change to it, is invalid."""


def empty() -> dict[str, Any]:
    return {
        "version": VERSION,
        "admins": [],
        "users": [],
        "groups": {},
        "limits": {"default": {"memory": DEFAULT_MEMORY}, "users": {}, "groups": {}},
    }


def parse_memory(value: str) -> int:
    """Bytes for a Docker memory size (`350m`, `8G`, `1024`). Raises PolicyError."""
    m = _MEMORY_RE.match(str(value).strip())
    if not m:
        raise PolicyError(f"invalid memory {value!r}: use a size like 350m or 8G")
    size = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if size < 6 * 1024**2:
        raise PolicyError(f"invalid memory {value!r}: Docker needs at least 6m")
    return size


def check_memory(value: str, host_memory: int | None = None, new: bool = False) -> str:
    """A Docker size within the host's memory; a `new` limit also at least MIN_SERVER_MEMORY."""
    size = parse_memory(value)
    if new and size < parse_memory(MIN_SERVER_MEMORY):
        raise PolicyError(f"memory {value} is too little for a notebook server: at least "
                          f"{MIN_SERVER_MEMORY} (one with a kernel uses about 100 MiB)")
    if host_memory is not None and size > host_memory:
        raise PolicyError(f"memory {value} is more than this host has")
    return str(value).strip()


def check_cpu(value: Any, host_cpus: int | None = None) -> float:
    try:
        cpu = float(value)
    except (TypeError, ValueError):
        raise PolicyError(f"invalid cpu {value!r}: use a positive number like 1.5") from None
    if not cpu > 0 or cpu != cpu or cpu == float("inf"):
        raise PolicyError(f"invalid cpu {value!r}: use a positive number like 1.5")
    if cpu < MIN_CPU:
        raise PolicyError(f"invalid cpu {value!r}: at least {MIN_CPU} (Docker refuses a "
                          "smaller CPU quota, and rounds a tiny one to no limit at all)")
    if host_cpus is not None and cpu > host_cpus:
        raise PolicyError(f"cpu {value} is more than this host's {host_cpus} cores")
    return cpu


def _check_names(names: Any, what: str) -> list[str]:
    if not isinstance(names, list):
        raise PolicyError(f"{what} must be a list")
    for n in names:
        if not is_safe_name(n):
            raise PolicyError(f"invalid {what[:-1] if what.endswith('s') else what} name {n!r}")
    return sorted(set(names))


def _check_limit(limit: Any, where: str, host_memory: int | None, host_cpus: int | None) -> dict:
    if not isinstance(limit, dict) or set(limit) - _LIMIT_KEYS:
        raise PolicyError(f"limits for {where} must only have memory and cpu")
    out: dict[str, Any] = {}
    if limit.get("memory") is not None:
        out["memory"] = check_memory(limit["memory"], host_memory)
    if limit.get("cpu") is not None:
        out["cpu"] = check_cpu(limit["cpu"], host_cpus)
    return out


def validate(
    doc: Any, host_memory: int | None = None, host_cpus: int | None = None
) -> dict[str, Any]:
    """Return a normalised deep copy of `doc`, or raise PolicyError. Unknown keys are refused."""
    if not isinstance(doc, dict):
        raise PolicyError("policy must be a JSON object")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise PolicyError(f"unknown policy keys: {', '.join(sorted(unknown))}")
    if doc.get("version") != VERSION:
        raise PolicyError(f"unsupported policy version {doc.get('version')!r} (expected {VERSION})")
    out = empty()
    out["admins"] = _check_names(doc.get("admins", []), "admins")
    out["users"] = _check_names(doc.get("users", []), "users")
    groups = doc.get("groups", {})
    if not isinstance(groups, dict):
        raise PolicyError("groups must be an object")
    for name, group in groups.items():
        if not is_safe_name(name):
            raise PolicyError(f"invalid group name {name!r}")
        if not isinstance(group, dict) or set(group) - {"members_mode", "members"}:
            raise PolicyError(f"group {name} must only have members_mode and members")
        mode = group.get("members_mode", "ro")
        if mode not in MODES:
            raise PolicyError(f"group {name}: members_mode must be ro or rw")
        out["groups"][name] = {
            "members_mode": mode,
            "members": _check_names(group.get("members", []), "members"),
        }
    limits = doc.get("limits", {})
    if not isinstance(limits, dict) or set(limits) - {"default", "users", "groups"}:
        raise PolicyError("limits must only have default, users and groups")
    out["limits"]["default"] = _check_limit(
        limits.get("default", {"memory": DEFAULT_MEMORY}), "default", host_memory, host_cpus
    )
    for kind in ("users", "groups"):
        entries = limits.get(kind, {})
        if not isinstance(entries, dict):
            raise PolicyError(f"limits.{kind} must be an object")
        for name, limit in entries.items():
            if not is_safe_name(name):
                raise PolicyError(f"invalid {kind[:-1]} name {name!r} in limits")
            checked = _check_limit(limit, f"{kind[:-1]} {name}", host_memory, host_cpus)
            if checked:
                out["limits"][kind][name] = checked
    return out


def loads(text: str | bytes) -> dict[str, Any]:
    """The validated document of a policy file's text or bytes (which must be UTF-8)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(f"policy is not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"policy is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return validate(doc)


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(validate(doc), indent=2, sort_keys=True) + "\n"


def copy_of(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)


# ---- what the policy says of one user ---------------------------------------------------


def is_admin(doc: dict[str, Any], user: str) -> bool:
    return user in doc.get("admins", [])


def groups_of(doc: dict[str, Any], user: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Groups `user` belongs to: explicit memberships plus `extra` (e.g. from OAuth claims)
    that name a group the policy knows."""
    groups = doc.get("groups", {})
    named = {g for g, spec in groups.items() if user in spec.get("members", [])}
    named |= {g for g in extra if g in groups}
    return sorted(named)


def group_sources(
    doc: dict[str, Any], user: str, claim_groups: tuple[str, ...] = ()
) -> dict[str, str]:
    """For each group `user` is in: "policy" (named in the policy), "claim" (from the login
    provider's groups claim only) or "policy+claim"."""
    groups = doc.get("groups", {})
    explicit = {g for g, spec in groups.items() if user in spec.get("members", [])}
    claimed = {g for g in claim_groups if g in groups}
    out = {}
    for g in sorted(explicit | claimed):
        out[g] = "policy+claim" if g in explicit and g in claimed else (
            "policy" if g in explicit else "claim"
        )
    return out


def is_allowed(doc: dict[str, Any], user: str) -> bool:
    return is_admin(doc, user) or user in doc.get("users", []) or bool(groups_of(doc, user))


def limits_for(
    doc: dict[str, Any], user: str, extra_groups: tuple[str, ...] = ()
) -> tuple[str, float | None]:
    """(memory, cpu) for `user`: the largest of default, user and group limits wins."""
    limits = doc.get("limits", {})
    candidates = [limits.get("default", {}), limits.get("users", {}).get(user, {})]
    candidates += [limits.get("groups", {}).get(g, {}) for g in groups_of(doc, user, extra_groups)]
    mems = [c["memory"] for c in candidates if c.get("memory")]
    memory = max(mems, key=parse_memory) if mems else DEFAULT_MEMORY
    cpus = [float(c["cpu"]) for c in candidates if c.get("cpu")]
    return memory, (max(cpus) if cpus else None)
