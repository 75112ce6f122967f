"""Notebook image builds against the real Docker engine, through the real entry points: the
`post-deploy` trigger (`python -m dokku_jupyterhub.triggers`) and `jupyterhub:rebuild-image`
(`dokku_jupyterhub.cli.main`). Each test deploys a fake hub image `dokku/<app>:latest`
(`FROM scratch`, `images/` copied to /srv/jupyterhub/images/, Dokku's labels) under a unique
app name and removes every image it made."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import docker
import pytest
from support.recorder import FakeDokku

from dokku_jupyterhub import cli, dokku_cli, properties, triggers
from dokku_jupyterhub.hub_runtime import contract
from dokku_jupyterhub.notebook_build import lock, plan, records

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
SCRATCH_DOCKERFILE = "FROM scratch\nCOPY . /nb/\n"


class Hub:
    """A fake deployed hub app: properties in `dokku_env`, its image in the engine."""

    def __init__(self, engine: docker.DockerClient, tmp_path: Path) -> None:
        self.engine = engine
        self.api = engine.api
        self.app = f"djhbuild-{uuid.uuid4().hex[:10]}"
        self.tmp = tmp_path
        self.target = plan.target_tag(self.app)
        self.previous = plan.previous_tag(self.target)
        properties.set(self.app, "hub-app", "true")

    def deploy(self, files: dict[str, bytes | str], revision: str | None = "rev1",
               modes: dict[str, int] | None = None) -> str:
        """Build `dokku/<app>:latest` holding `files` under /srv/jupyterhub/images/."""
        with tempfile.TemporaryDirectory(dir=self.tmp) as src:
            root = Path(src)
            for rel, data in files.items():
                path = root / "images" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data.encode() if isinstance(data, str) else data)
                os.chmod(path, (modes or {}).get(rel, 0o644))
            (root / "images").mkdir(exist_ok=True)
            env = f"ENV GIT_REV={revision}\n" if revision else ""
            (root / "Dockerfile").write_text(
                "FROM scratch\nCOPY images/ /srv/jupyterhub/images/\n" + env
                + f"LABEL com.dokku.app-name={self.app} com.dokku.image-stage=release\n"
            )
            image, _ = self.engine.images.build(path=str(root), tag=f"dokku/{self.app}:latest",
                                                rm=True, forcerm=True)
        return image.id

    def image_id(self, ref: str) -> str | None:
        try:
            return self.api.inspect_image(ref)["Id"]
        except docker.errors.ImageNotFound:
            return None

    def labels(self, ref: str) -> dict[str, str]:
        return self.api.inspect_image(ref)["Config"]["Labels"] or {}

    def notebook_images(self) -> list[dict]:
        return self.api.images(filters={"label": [f"{contract.LABEL_NOTEBOOK_APP}={self.app}",
                                                  contract.LABEL_BUILD_HASH]})

    def read_file(self, ref: str, path: str) -> tarfile.TarFile:
        """The archive of `path` inside image `ref`, as docker's API returns it."""
        cid = self.api.create_container(ref, command=["/x"])["Id"]
        try:
            stream, _ = self.api.get_archive(cid, path)
            return tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
        finally:
            self.api.remove_container(cid, force=True)

    def containers(self) -> list[dict]:
        """Containers left from this app's images (e.g. intermediate build containers)."""
        return [c for name in (self.app, f"{self.app}x", f"{self.app}-notebook")
                for label in ("com.dokku.app-name", contract.LABEL_NOTEBOOK_APP)
                for c in self.api.containers(all=True, filters={"label": f"{label}={name}"})]

    def cleanup(self) -> None:
        for container in self.containers():
            self.api.remove_container(container["Id"], force=True)
        for img in [*self.api.images(filters={"label": f"com.dokku.app-name={self.app}"}),
                    *self.api.images(
                        filters={"label": f"{contract.LABEL_NOTEBOOK_APP}={self.app}"})]:
            for tag in img.get("RepoTags") or []:
                if tag != "<none>:<none>":
                    self.api.remove_image(tag, force=True)
            with contextlib.suppress(docker.errors.ImageNotFound):
                self.api.remove_image(img["Id"], force=True)


@pytest.fixture
def hub(engine, dokku_env, tmp_path, monkeypatch):
    made = Hub(engine, tmp_path)
    # Dokku as far as post-deploy asks it (config, the proxy's wiring): an app made before
    # the proxy moved out, so the build is all post-deploy does with Docker.
    monkeypatch.setattr(dokku_cli, "runner",
                        FakeDokku(apps={made.app}, checks_disabled={made.app: "web"}))
    yield made
    made.cleanup()


def post_deploy(app: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        triggers.main(["post-deploy", app, "", "", "latest"])
    return exit_info.value.code


def rebuild_image(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["jupyterhub:rebuild-image", *args])
    return exit_info.value.code


# --- the trigger --------------------------------------------------------------------------


def test_first_build_tags_the_target_with_labels(hub, capsys):
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "hello.txt": "hi"}, revision="abc123")
    assert post_deploy(hub.app) == 0
    out = capsys.readouterr().out
    assert f"-----> Building notebook image {hub.target}" in out
    assert re.search(r"^       Step 1/\d+ : FROM scratch$", out, re.M)
    assert "building-" not in out  # the temporary tag is not shown
    labels = hub.labels(hub.target)
    assert labels[contract.LABEL_NOTEBOOK_APP] == hub.app
    # Never Dokku's app label: every Dokku deploy prunes the unused images that carry it.
    assert "com.dokku.app-name" not in labels
    assert len(labels[contract.LABEL_BUILD_HASH]) == 64
    assert labels[contract.LABEL_BUILD_REVISION] == "abc123"
    assert labels[contract.LABEL_BUILT_AT].endswith("Z")
    got = records.read(hub.app)
    assert got["last-build-status"] == "ok"
    assert got["last-build-image-id"] == hub.image_id(hub.target)
    assert got["last-build-hash"] == labels[contract.LABEL_BUILD_HASH]
    assert got["last-build-revision"] == "abc123"
    tags = [t for img in hub.notebook_images() for t in img["RepoTags"] or []]
    assert tags == [hub.target]  # no temporary tag left, no :previous on a first build
    assert hub.containers() == []  # neither the reading nor the build left a container


def test_unchanged_images_folder_is_not_rebuilt(hub, capsys):
    files = {"Dockerfile": SCRATCH_DOCKERFILE, "a.txt": "a"}
    hub.deploy(files)
    post_deploy(hub.app)
    first = hub.image_id(hub.target)
    hub.deploy(files, revision="rev2")  # a new hub image, same images/ content
    capsys.readouterr()
    assert post_deploy(hub.app) == 0
    out = capsys.readouterr().out
    assert "is current (images/ unchanged" in out
    assert "Building" not in out
    assert hub.image_id(hub.target) == first
    assert len(hub.notebook_images()) == 1
    assert records.read(hub.app)["last-build-status"] == "skipped"
    assert records.read(hub.app)["last-build-revision"] == "rev1"  # revision of the image


def test_changed_file_rebuilds_keeps_previous_and_prunes_older(hub, capsys):
    ids = []
    for n in range(3):
        hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "a.txt": f"version {n}"})
        assert post_deploy(hub.app) == 0
        ids.append(hub.image_id(hub.target))
    assert len(set(ids)) == 3
    assert "Previous image kept as" in capsys.readouterr().out
    assert hub.image_id(hub.previous) == ids[1]
    assert {img["Id"] for img in hub.notebook_images()} == {ids[1], ids[2]}
    assert hub.image_id(ids[0]) is None


def test_binary_file_and_subfolder_arrive_byte_identical(hub):
    payload = bytes(range(256)) * 4 + b"\r\n\x00\xff"
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "data/deep/blob.bin": payload,
                "tool.sh": "#!/bin/sh\n"}, modes={"tool.sh": 0o755})
    assert post_deploy(hub.app) == 0
    tar = hub.read_file(hub.target, "/nb/data/deep/blob.bin")
    assert tar.extractfile("blob.bin").read() == payload
    tar = hub.read_file(hub.target, "/nb/tool.sh")
    assert tar.getmember("tool.sh").mode & 0o777 == 0o755


def test_dockerignore_is_honoured(hub, capsys):
    files = {"Dockerfile": SCRATCH_DOCKERFILE, ".dockerignore": "secret.txt\ncache/\n",
             "secret.txt": "s1", "cache/x": "1", "kept.txt": "k"}
    hub.deploy(files)
    assert post_deploy(hub.app) == 0
    first = hub.image_id(hub.target)
    assert hub.read_file(hub.target, "/nb/kept.txt").extractfile("kept.txt").read() == b"k"
    for ignored in ("/nb/secret.txt", "/nb/cache"):
        with pytest.raises(docker.errors.NotFound):
            hub.read_file(hub.target, ignored)
    # a change in an ignored file is no change at all
    hub.deploy({**files, "secret.txt": "s2", "cache/x": "2"})
    capsys.readouterr()
    assert post_deploy(hub.app) == 0
    assert "is current" in capsys.readouterr().out
    assert hub.image_id(hub.target) == first


def test_broken_dockerfile_keeps_previous_and_never_fails_the_deploy(hub, capsys):
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "a.txt": "good"})
    post_deploy(hub.app)
    good = hub.image_id(hub.target)
    hub.deploy({"Dockerfile": "FROM scratch\nCOPY missing-file /nb/\n", "a.txt": "bad"})
    capsys.readouterr()
    assert post_deploy(hub.app) == 0
    err = capsys.readouterr().err
    assert f" !     Notebook image build for {hub.app} failed:" in err
    assert "missing-file" in err
    assert "still points at the previous image" in err
    assert "The deploy itself succeeded" in err
    assert hub.image_id(hub.target) == good
    got = records.read(hub.app)
    assert got["last-build-status"] == "failed"
    assert "missing-file" in got["last-build-error"] and "\n" not in got["last-build-error"]
    assert got["last-build-image-id"] == good
    # the same failure by hand fails the command, and still keeps the image
    assert rebuild_image(hub.app) == 1
    assert "failed:" in capsys.readouterr().err
    assert hub.image_id(hub.target) == good
    assert {img["Id"] for img in hub.notebook_images()} == {good}
    assert hub.containers() == []


def test_failed_run_step_on_a_real_base(hub, bookworm_image, capsys, monkeypatch):
    properties.set(hub.app, "notebook-base-image", bookworm_image)
    hub.deploy({"Dockerfile": "ARG NOTEBOOK_BASE_IMAGE=none/such\nFROM ${NOTEBOOK_BASE_IMAGE}\n"
                              "RUN echo preparing && false\n"})
    monkeypatch.setenv("DOKKU_QUIET_OUTPUT", "1")
    assert post_deploy(hub.app) == 0
    out, err = capsys.readouterr()
    assert "returned a non-zero code: 1" in err
    assert "  preparing" in err  # quiet: the tail of the log comes with the failure
    assert "Step" not in out
    assert hub.image_id(hub.target) is None
    assert "No notebook image exists yet" in err


def test_base_image_that_cannot_be_pulled_is_named(hub, capsys):
    hub.deploy({"Dockerfile": "ARG NOTEBOOK_BASE_IMAGE=djh-test/no-such-base:1\n"
                              "FROM ${NOTEBOOK_BASE_IMAGE}\n"})
    assert post_deploy(hub.app) == 0
    err = capsys.readouterr().err
    assert ("base image djh-test/no-such-base:1 cannot be pulled: build or load it on this "
            "host, or set notebook-base-image") in err
    properties.set(hub.app, "notebook-base-image", "djh-test/other-missing:2")
    assert rebuild_image(hub.app) == 1
    assert "base image djh-test/other-missing:2 cannot be pulled" in capsys.readouterr().err


def test_notebook_base_image_is_a_build_arg_and_part_of_the_hash(hub, bookworm_image, capsys):
    hub.deploy({"Dockerfile": "ARG NOTEBOOK_BASE_IMAGE=none/such\nFROM ${NOTEBOOK_BASE_IMAGE}\n"
                              "RUN test -f /etc/debian_version && echo built > /built\n"})
    properties.set(properties.GLOBAL, "notebook-base-image", bookworm_image)
    try:
        assert post_deploy(hub.app) == 0
        first = hub.image_id(hub.target)
        assert first is not None
        assert hub.read_file(hub.target, "/built").extractfile("built").read() == b"built\n"
        # an app value overrides the global one: another build input, so a rebuild
        hub.api.tag(bookworm_image, f"djh-test/{hub.app}-base", "1")
        properties.set(hub.app, "notebook-base-image", f"djh-test/{hub.app}-base:1")
        capsys.readouterr()
        assert post_deploy(hub.app) == 0
        assert "Building" in capsys.readouterr().out
        assert hub.image_id(hub.target) != first
    finally:
        properties.delete(properties.GLOBAL, "notebook-base-image")
        with contextlib.suppress(docker.errors.ImageNotFound):
            hub.api.remove_image(f"djh-test/{hub.app}-base:1")


def test_quiet_shows_start_and_result_only(hub, capsys, monkeypatch):
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE})
    monkeypatch.setenv("DOKKU_QUIET_OUTPUT", "1")
    assert post_deploy(hub.app) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("-----> Building notebook image")
    assert lines[1].startswith(f"-----> Notebook image {hub.target} built in")


def test_pinned_notebook_image_turns_builds_off_without_docker(hub, capsys, monkeypatch):
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE})
    properties.set(hub.app, "notebook-image", "registry.example/nb:1")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert post_deploy(hub.app) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and "automatic notebook builds are off" in out
    assert err == ""
    assert records.read(hub.app) == {}
    assert rebuild_image(hub.app) == 1
    properties.delete(hub.app, "notebook-image")
    monkeypatch.delenv("DOCKER_HOST")
    assert post_deploy(hub.app) == 0
    assert hub.image_id(hub.target) is not None


def test_no_dockerfile_means_no_build_and_a_note(hub, capsys):
    hub.deploy({"README.md": "no Dockerfile here"})
    assert post_deploy(hub.app) == 0
    out = capsys.readouterr().out
    assert "hub keeps using DOCKER_JUPYTER_IMAGE as set" in out
    assert hub.image_id(hub.target) is None
    assert rebuild_image(hub.app) == 1
    assert "no images/Dockerfile" in capsys.readouterr().err


def test_target_tag_of_another_app_is_never_overwritten(hub, capsys):
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE})
    # e.g. an app really named "<app>-notebook", deployed by Dokku under our default tag
    foreign = hub.engine.images.build(fileobj=io.BytesIO(b"FROM scratch\nLABEL x=1\n"),
                                      labels={"com.dokku.app-name": f"{hub.app}-notebook"},
                                      tag=hub.target, rm=True, forcerm=True)[0].id
    try:
        assert post_deploy(hub.app) == 0
        assert "not overwriting it" in capsys.readouterr().err
        assert hub.image_id(hub.target) == foreign
        assert records.read(hub.app)["last-build-status"] == "failed"
    finally:
        hub.api.remove_image(foreign, force=True)


def test_foreign_and_unlabelled_images_are_never_pruned(hub):
    api = hub.api
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "a": "0"})
    post_deploy(hub.app)
    other_app = f"{hub.app}x"
    made = []

    def make(tag: str, labels: dict[str, str]) -> str:
        image = hub.engine.images.build(
            fileobj=io.BytesIO(f"FROM scratch\nLABEL t={uuid.uuid4().hex}\n".encode()),
            labels=labels, tag=tag, rm=True, forcerm=True)[0]
        made.append(tag)
        return image.id

    foreign = {
        # another app's notebook image, with every label of ours
        make(f"dokku/{other_app}-notebook:latest",
             {contract.LABEL_NOTEBOOK_APP: other_app, contract.LABEL_BUILD_HASH: "h"}):
            f"{other_app} notebook",
        # an image a person loaded by hand under our repository, without labels
        make(f"dokku/{hub.app}-notebook:manual", {}): "unlabelled, in our repository",
        # an image of this app that is not a notebook image of ours (the hub itself)
        make(f"djh-test/{hub.app}-hubcopy:1", {"com.dokku.app-name": hub.app}): "hub image",
    }
    try:
        for n in range(1, 4):
            hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "a": str(n)})
            assert post_deploy(hub.app) == 0
        for image_id, what in foreign.items():
            assert hub.image_id(image_id) == image_id, what
        assert hub.image_id(f"dokku/{hub.app}:latest") is not None
        assert len(hub.notebook_images()) == 2
    finally:
        for tag in made:
            api.remove_image(tag, force=True)


def test_image_used_by_a_container_is_kept(hub):
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "a": "0"})
    post_deploy(hub.app)
    in_use = hub.image_id(hub.target)
    # a student's server from the oldest image (created, never started: scratch has no shell)
    cid = hub.api.create_container(in_use, command=["/x"])["Id"]
    try:
        for n in (1, 2):
            hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "a": str(n)})
            assert post_deploy(hub.app) == 0
        assert hub.image_id(in_use) == in_use
    finally:
        hub.api.remove_container(cid, force=True)


# --- the command --------------------------------------------------------------------------


def test_rebuild_image_force_and_no_cache(hub, capsys):
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE})
    assert rebuild_image(hub.app) == 0
    first = hub.image_id(hub.target)
    assert rebuild_image(hub.app) == 0
    assert "is current" in capsys.readouterr().out
    assert hub.image_id(hub.target) == first
    assert rebuild_image(hub.app, "--force") == 0
    out = capsys.readouterr().out
    assert "Building notebook image" in out and "rebuilding as asked (--force)" in out
    assert "Using cache" in out
    forced = hub.image_id(hub.target)
    assert rebuild_image("--no-cache", hub.app) == 0
    out = capsys.readouterr().out
    assert "no cache" in out and "Using cache" not in out
    assert hub.image_id(hub.target) != forced
    assert hub.image_id(hub.previous) == forced


def test_rebuild_image_revision_from_dokku_config(hub, monkeypatch):
    """Dokku keeps GIT_REV in the app's config, not in the image: asked only when building."""
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE}, revision=None)
    calls = []

    def recorder(args, input, stream):
        calls.append(list(args))
        return dokku_cli.Result(0, "0123abcd\n", "")

    monkeypatch.setattr(dokku_cli, "runner", recorder)
    assert rebuild_image(hub.app) == 0
    assert calls == [["config:get", hub.app, "GIT_REV"]]
    assert hub.labels(hub.target)[contract.LABEL_BUILD_REVISION] == "0123abcd"
    assert records.read(hub.app)["last-build-revision"] == "0123abcd"
    assert rebuild_image(hub.app) == 0  # unchanged: no dokku call at all
    assert len(calls) == 1


# --- two at once ----------------------------------------------------------------------


def test_two_triggers_at_once_build_once(hub, tmp_path):
    hub.deploy({"Dockerfile": SCRATCH_DOCKERFILE, "a": "1"})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outputs = [tmp_path / "one.out", tmp_path / "two.out"]
    procs = []
    # Hold the app's lock so both processes are certainly running when the build starts.
    with lock.app_lock(hub.app):
        for path in outputs:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dokku_jupyterhub.triggers", "post-deploy", hub.app,
                 "", "", "latest"], stdout=path.open("w"), stderr=subprocess.STDOUT, env=env))
        deadline = time.monotonic() + 60
        while not all("waiting for it" in p.read_text() for p in outputs if p.exists()) or \
                not all(p.exists() for p in outputs):
            assert time.monotonic() < deadline, [p.read_text() for p in outputs]
            time.sleep(0.05)
    assert [p.wait(120) for p in procs] == [0, 0]
    texts = [p.read_text() for p in outputs]
    assert sum("-----> Building notebook image" in t for t in texts) == 1, texts
    assert sum("is current" in t for t in texts) == 1, texts
    assert len(hub.notebook_images()) == 1
