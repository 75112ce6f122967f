"""The outcome of the last notebook build, kept as app properties for `report` (the keys
are contract.BuildRecord)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from dokku_jupyterhub import properties
from dokku_jupyterhub.hub_runtime.contract import BuildRecord

STATUS, TIME, IMAGE_ID = BuildRecord.STATUS, BuildRecord.TIME, BuildRecord.IMAGE_ID
HASH, ERROR, REVISION = BuildRecord.HASH, BuildRecord.ERROR, BuildRecord.REVISION
KEYS = BuildRecord.KEYS

MAX_ERROR = 300
# Credentials in URLs (https://user:token@host) must not reach the report.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_line(error: str) -> str:
    """First non-empty line, credentials in URLs masked, at most MAX_ERROR characters."""
    lines = [ln.strip() for ln in error.strip().splitlines() if ln.strip()]
    text = _URL_CREDENTIALS.sub("***@", lines[0] if lines else "unknown error")
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def _write(app: str, values: dict[str, str]) -> None:
    for key, value in values.items():
        properties.set(app, key, value)  # an empty value deletes the key


def running(app: str, context_hash: str, revision: str) -> None:
    _write(app, {STATUS: "running", TIME: now(), HASH: context_hash, REVISION: revision,
                 ERROR: ""})


def ok(app: str, image_id: str, context_hash: str, revision: str) -> None:
    _write(app, {STATUS: "ok", TIME: now(), IMAGE_ID: image_id, HASH: context_hash,
                 REVISION: revision, ERROR: ""})


def failed(app: str, error: str, context_hash: str = "", revision: str = "") -> None:
    """The image id stays that of the last good build: it is still the one in service."""
    values = {STATUS: "failed", TIME: now(), ERROR: one_line(error)}
    if context_hash:
        values[HASH] = context_hash
    if revision:
        values[REVISION] = revision
    _write(app, values)


def skipped(app: str, image_id: str, context_hash: str) -> None:
    """Nothing built: the image in service already holds this context (revision unchanged)."""
    _write(app, {STATUS: "skipped", TIME: now(), IMAGE_ID: image_id, HASH: context_hash,
                 ERROR: ""})


def read(app: str) -> dict[str, str]:
    return {key: value for key in KEYS if (value := properties.get(app, key)) is not None}
