"""Building, tagging and pruning notebook images with docker-py's low-level API.

The build runs under a temporary tag and only a finished image is tagged as the target, so a
failed build leaves the image in service untouched. The image the target held before is
tagged `:previous` for rollback; older images of this app built by this plugin are removed,
unless a container still uses them. Images without this plugin's labels for this app are
never touched.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions

from dokku_jupyterhub.docker_api import BUILD_TIMEOUT
from dokku_jupyterhub.hub_runtime.contract import LABEL_BUILD_HASH
from dokku_jupyterhub.notebook_build.plan import image_owner, repository

TAIL_LINES = 15


class BuildError(Exception):
    """The build did not produce an image; `tail` holds the last lines of its output."""

    def __init__(self, message: str, tail: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.tail = list(tail)


# --- the build's event stream (pure) ---------------------------------------------------


@dataclass
class Event:
    kind: str  # "line" | "error" | "image"
    text: str


@dataclass
class _Splitter:
    """Joins `stream` fragments into whole lines; a `\\r` rewrite keeps its last state."""

    pending: str = ""

    def feed(self, text: str) -> list[str]:
        self.pending += text
        *done, self.pending = self.pending.split("\n")
        return [line.rsplit("\r", 1)[-1].rstrip() for line in done]

    def flush(self) -> list[str]:
        rest, self.pending = self.pending, ""
        return [rest.rsplit("\r", 1)[-1].rstrip()] if rest.strip() else []


def events(chunks: Iterable[Mapping[str, Any]]) -> Iterator[Event]:
    """Turn docker's decoded build chunks into output lines, an error, or the image id."""
    splitter = _Splitter()
    for chunk in chunks:
        if "stream" in chunk:
            for line in splitter.feed(str(chunk["stream"])):
                if line.strip():
                    yield Event("line", line)
        elif "error" in chunk or "errorDetail" in chunk:
            for line in splitter.flush():
                yield Event("line", line)
            detail = chunk.get("errorDetail") or {}
            yield Event("error", str(chunk.get("error") or detail.get("message") or "unknown"))
        elif "aux" in chunk and isinstance(chunk["aux"], Mapping) and "ID" in chunk["aux"]:
            yield Event("image", str(chunk["aux"]["ID"]))
        elif "status" in chunk and not chunk.get("progressDetail"):
            # Pull status of a base image; per-layer progress bars are left out.
            text = " ".join(str(chunk[k]) for k in ("id", "status") if chunk.get(k))
            yield Event("line", text)
    for line in splitter.flush():
        yield Event("line", line)


# --- explaining failures (pure) -----------------------------------------------------------

_STEP = re.compile(r"^Step \d+/\d+ : (.*)$")
_BUILT = re.compile(r"^Successfully built ([0-9a-f]{12,64})$")
_VAR = re.compile(r"\$(?:\{(\w+)(?::([-+])([^}]*))?\}|(\w+))")


def global_args(dockerfile: str) -> dict[str, str]:
    """ARG defaults declared before the first FROM (the only ones FROM may use)."""
    found: dict[str, str] = {}
    for line in dockerfile.replace("\\\n", " ").splitlines():
        words = line.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        if words[0].upper() == "FROM":
            break
        if words[0].upper() == "ARG" and len(words) == 2:
            name, _, default = words[1].strip().partition("=")
            found[name.strip()] = default.strip().strip("\"'")
    return found


def expand(text: str, values: Mapping[str, str]) -> str:
    """Docker's `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}` substitution."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value = values.get(name, "")
        if m.group(2) == "-":
            return value or m.group(3)
        if m.group(2) == "+":
            return m.group(3) if value else ""
        return value

    return _VAR.sub(sub, text)


def from_image(instruction: str, dockerfile: str, buildargs: Mapping[str, str]) -> str | None:
    """The image a `FROM ...` step names, with build arguments substituted."""
    words = instruction.split()
    if not words or words[0].upper() != "FROM":
        return None
    names = [w for w in words[1:] if not w.startswith("--")]
    if not names:
        return None
    declared = global_args(dockerfile)
    values = {**declared, **{k: v for k, v in buildargs.items() if k in declared}}
    return expand(names[0], values)


def explain(error: str, step: str | None, dockerfile: str, buildargs: Mapping[str, str]) -> str:
    """One line that says what to do; a failing FROM is about the base image."""
    error = error.strip().splitlines()[0] if error.strip() else "unknown error"
    image = from_image(step, dockerfile, buildargs) if step else None
    if image is None:
        return error
    if not image or "invalid reference format" in error or "should not be blank" in error:
        return (f"the Dockerfile's FROM names no valid image ({image or 'empty'}): "
                f"set notebook-base-image or fix images/Dockerfile ({error})")
    return (f"base image {image} cannot be pulled: build or load it on this host, "
            f"or set notebook-base-image ({error})")


# --- effects ------------------------------------------------------------------------------


def labels_of(api: Any, ref: str) -> dict[str, str] | None:
    """Labels of the image `ref` names; None when no such image (an empty dict: unlabelled)."""
    try:
        attrs = api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return None
    return dict((attrs.get("Config") or {}).get("Labels") or {})


def image_id(api: Any, ref: str) -> str | None:
    try:
        return str(api.inspect_image(ref)["Id"])
    except docker.errors.ImageNotFound:
        return None


def temporary_tag(target: str) -> str:
    return f"{repository(target)}:building-{secrets.token_hex(6)}"


def build(
    api: Any,
    root: Path,
    *,
    tag: str,
    buildargs: Mapping[str, str],
    labels: Mapping[str, str],
    nocache: bool = False,
    network_mode: str | None = None,
    on_line: Callable[[str], None] = lambda line: None,
) -> str:
    """Build `root` (docker-py sends it, honouring .dockerignore), label it, tag it `tag`.

    Labels go on in one extra step of their own: the build API's `labels` option costs the
    classic builder one step (a container) per label. `network_mode` is None in production
    (RUN steps need the network for pip); tests on an offline host may pass "none".
    """
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    dockerfile = (root / "Dockerfile").read_text(errors="replace")
    built = _run(api, tail, on_line, dockerfile, buildargs, path=str(root),
                 buildargs=dict(buildargs), nocache=nocache, network_mode=network_mode)
    label_step = f"FROM {built}\nLABEL " + " ".join(
        f"{_quoted(key)}={_quoted(value)}" for key, value in sorted(labels.items()))
    _run(api, tail, lambda line: None, label_step, {},
         fileobj=io.BytesIO(label_step.encode()), tag=tag)
    found = image_id(api, tag)
    if found is None:
        raise BuildError(f"the build ended without an image tagged {tag}", tail)
    return found


def _quoted(text: str) -> str:
    """A Dockerfile double-quoted word (backslash escapes, as JSON writes them)."""
    return json.dumps(text, ensure_ascii=False)


def _run(api: Any, tail: deque[str], on_line: Callable[[str], None], dockerfile: str,
         args: Mapping[str, str], **options: Any) -> str:
    """One streamed build request; the id of the image it made. `dockerfile` and `args`
    only serve to explain a failure."""
    step: str | None = None
    built: str | None = None
    try:
        chunks = api.build(rm=True, forcerm=True, pull=False, decode=True,
                           timeout=BUILD_TIMEOUT, **options)
        for event in events(chunks):
            if event.kind == "line":
                tail.append(event.text)
                match = _STEP.match(event.text)
                if match:
                    step = match.group(1)
                done = _BUILT.match(event.text)
                if done and not built:
                    built = done.group(1)
                on_line(event.text)
            elif event.kind == "image":
                built = event.text
            else:
                raise BuildError(explain(event.text, step, dockerfile, args), tail)
    except docker.errors.APIError as exc:
        # Refused before it started: a Dockerfile syntax error, a bad option.
        raise BuildError(str(exc.explanation or exc), tail) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise BuildError(f"Docker engine failed during the build: {exc}", tail) from None
    found = image_id(api, built) if built else None
    if found is None:
        raise BuildError("the build ended without an image", tail)
    return found


def promote(api: Any, new_id: str, target: str) -> str | None:
    """Tag `new_id` as `target`; the image it replaces becomes `:previous`. Its id or None.

    The previous image is tagged first, so the target never points at nothing.
    """
    repo, _, tag = target.rpartition(":")
    if "/" in tag or not repo:
        repo, tag = target, "latest"
    try:
        previous = image_id(api, target)
        if previous and previous != new_id:
            api.tag(previous, repo, "previous", force=True)
        api.tag(new_id, repo, tag, force=True)
    except docker.errors.DockerException as exc:
        raise BuildError(f"could not tag the new image as {target}: {exc}") from None
    return previous if previous != new_id else None


def untag(api: Any, ref: str) -> None:
    """Remove one tag (the image itself only if it was its last tag and nothing uses it)."""
    try:
        api.remove_image(ref, noprune=True)
    except docker.errors.ImageNotFound:
        pass
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        pass  # a leftover temporary tag is harmless and pruned with this app's images


@dataclass
class Pruned:
    removed: list[str] = field(default_factory=list)
    in_use: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def ours(image: Mapping[str, Any], app: str) -> bool:
    labels = image.get("Labels") or {}
    return image_owner(labels) == app and bool(labels.get(LABEL_BUILD_HASH))


def prune(api: Any, app: str, repo: str, keep: Iterable[str]) -> Pruned:
    """Remove this app's older notebook images (labelled by this plugin), except `keep`.

    Only tags in `repo` are removed: an image someone tagged elsewhere stays. Docker refuses
    to remove an image a container uses (a student's running server): it is kept for later.
    """
    keep = set(keep)
    result = Pruned()
    for image in api.images(filters={"label": LABEL_BUILD_HASH}):
        if image["Id"] in keep or not ours(image, app):
            continue
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        mine = [t for t in tags if repository(t) == repo]
        if len(mine) != len(tags):
            for ref in mine:
                untag(api, ref)
            continue
        try:
            for ref in mine[:-1]:
                untag(api, ref)
            api.remove_image(mine[-1] if mine else image["Id"])
            result.removed.append(image["Id"])
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                result.in_use.append(image["Id"])
            else:
                result.errors.append(str(exc.explanation or exc))
    return result
