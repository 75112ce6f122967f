"""Username and group-name rules shared by the plugin and the hub.

Host paths are built from these names, so `is_safe_name` is the gate every name passes before
a path is made from it, whatever the authenticator produced.
"""

from __future__ import annotations

import re

# Lowercase, starts with a letter or digit, then letters, digits and `._@+-`; at most 64.
# This excludes `/`, NUL, control characters, whitespace, a leading `.` and so `.`/`..`.
SAFE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")

AZURE_MAX_LENGTH = 31


def is_safe_name(name: object) -> bool:
    return isinstance(name, str) and bool(SAFE_NAME_RE.fullmatch(name))


def azure_username(principal: str) -> str:
    """The old setup's Azure AD username rule, kept so existing data directories still match.

    lowercase; drop `,` and spaces; `@` becomes `--`; `.` becomes `-`; when longer than 31
    characters the part before the `--` that replaced the `@` is shortened so the whole fits
    (a domain too long for that leaves the first 31 characters). The result may still be
    unsafe (e.g. `'` or `#` from a guest account): callers check it with `is_safe_name`.
    """
    cleaned = principal.strip().lower().replace(",", "").replace(" ", "")
    local, at, domain = cleaned.partition("@")
    local = local.replace(".", "-")
    domain = domain.replace("@", "--").replace(".", "-")
    sep = "--" if at else ""
    name = local + sep + domain
    if len(name) > AZURE_MAX_LENGTH:
        keep = AZURE_MAX_LENGTH - len(sep) - len(domain)
        name = local[:keep] + sep + domain if sep and keep > 0 else name[:AZURE_MAX_LENGTH]
    return name
