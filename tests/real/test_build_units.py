"""The notebook build's pure parts and local effects: fingerprint, plan, stream parsing,
failure wording, safe unpacking, the lock, the records. No Docker engine needed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import pytest
from support.dokkuuser import require_dokku_user

from dokku_jupyterhub import properties
from dokku_jupyterhub.hub_runtime import contract
from dokku_jupyterhub.notebook_build import context, engine, fingerprint, lock, plan, records
from dokku_jupyterhub.notebook_build.plan import Action
from dokku_jupyterhub.output import DokkuError

ROOT = Path(__file__).resolve().parents[2]

# --- fingerprint ----------------------------------------------------------------------


def write_tree(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "images"
    write_tree(root, {"Dockerfile": b"FROM scratch\n", "a.txt": b"a",
                      "sub/b.bin": bytes(range(256))})
    return root


def test_hash_ignores_mtimes_and_owners_but_not_content(tree):
    before = fingerprint.context_hash(tree, {})
    os.utime(tree / "a.txt", (1, 1))
    assert fingerprint.context_hash(tree, {}) == before
    (tree / "a.txt").write_bytes(b"b")
    assert fingerprint.context_hash(tree, {}) != before


def test_hash_counts_permissions_names_symlinks_and_buildargs(tree):
    base = fingerprint.context_hash(tree, {})
    os.chmod(tree / "a.txt", 0o755)
    chmodded = fingerprint.context_hash(tree, {})
    assert chmodded != base
    os.rename(tree / "a.txt", tree / "c.txt")
    renamed = fingerprint.context_hash(tree, {})
    assert renamed != chmodded
    os.symlink("c.txt", tree / "link")
    linked = fingerprint.context_hash(tree, {})
    assert linked != renamed
    assert fingerprint.context_hash(tree, {"NOTEBOOK_BASE_IMAGE": "x"}) != linked
    assert fingerprint.context_hash(tree, {"NOTEBOOK_BASE_IMAGE": "y"}) != \
        fingerprint.context_hash(tree, {"NOTEBOOK_BASE_IMAGE": "x"})


def test_hash_honours_dockerignore_like_docker_py(tree):
    write_tree(tree, {".dockerignore": b"# comment\nsecret*\ndata/\n!data/keep.txt\n",
                      "secret.txt": b"1", "data/big.csv": b"1", "data/keep.txt": b"k"})
    paths = fingerprint.context_paths(tree)
    assert "secret.txt" not in paths and "data/big.csv" not in paths
    assert {"Dockerfile", ".dockerignore", "data/keep.txt", "sub/b.bin"} <= set(paths)
    before = fingerprint.context_hash(tree, {})
    (tree / "secret.txt").write_bytes(b"changed")
    (tree / "data/big.csv").write_bytes(b"changed")
    assert fingerprint.context_hash(tree, {}) == before
    (tree / "data/keep.txt").write_bytes(b"changed")
    assert fingerprint.context_hash(tree, {}) != before


def test_dockerfile_is_hashed_even_when_ignored(tree):
    (tree / ".dockerignore").write_text("Dockerfile\n")
    before = fingerprint.context_hash(tree, {})
    (tree / "Dockerfile").write_text("FROM scratch\nCOPY a.txt /\n")
    assert fingerprint.context_hash(tree, {}) != before


def test_digest_cannot_be_fooled_by_concatenation():
    one = [fingerprint.Entry("ab", "file", 0o644, b"c")]
    two = [fingerprint.Entry("a", "file", 0o644, b"bc")]
    assert fingerprint.digest(one, {}) != fingerprint.digest(two, {})


# --- plan -----------------------------------------------------------------------------


def ours(app, h):
    return {contract.LABEL_NOTEBOOK_APP: app, contract.LABEL_BUILD_HASH: h}


@pytest.mark.parametrize(
    ("kwargs", "action"),
    [
        (dict(has_dockerfile=False, context_hash="", target_labels=None), Action.NO_DOCKERFILE),
        (dict(has_dockerfile=True, context_hash="h", target_labels=None), Action.BUILD),
        (dict(has_dockerfile=True, context_hash="h", target_labels=ours("hub", "h")), Action.SKIP),
        (dict(has_dockerfile=True, context_hash="h", target_labels=ours("hub", "h"), force=True),
         Action.BUILD),
        (dict(has_dockerfile=True, context_hash="h", target_labels=ours("hub", "old")),
         Action.BUILD),
        # a hand-loaded image under the default tag: replaced (and kept as :previous)
        (dict(has_dockerfile=True, context_hash="h", target_labels={}), Action.BUILD),
        # the tag holds another app's image (app "hub-notebook"'s own deploy): never overwrite
        (dict(has_dockerfile=True, context_hash="h",
              target_labels={contract.LABEL_DOKKU_APP: "other"}), Action.CONFLICT),
        (dict(has_dockerfile=True, context_hash="h", target_labels=ours("other", "h")),
         Action.CONFLICT),
        # built by an older plugin version, labelled as Dokku's own: still ours, still current
        (dict(has_dockerfile=True, context_hash="h",
              target_labels={contract.LABEL_DOKKU_APP: "hub", contract.LABEL_BUILD_HASH: "h"}),
         Action.SKIP),
    ],
)
def test_decide(kwargs, action):
    assert plan.decide("hub", **kwargs).action is action


def test_image_owner_is_our_label_or_an_older_builds_dokku_label():
    assert plan.image_owner(ours("hub", "h")) == "hub"
    assert plan.image_owner({contract.LABEL_DOKKU_APP: "hub", contract.LABEL_BUILD_HASH: "h"}) \
        == "hub"
    assert plan.image_owner({contract.LABEL_DOKKU_APP: "hub"}) is None  # the hub's own image
    assert plan.image_owner({}) is None


def test_pinned_image_turns_builds_off():
    assert plan.pinned("hub", None) is None
    assert plan.pinned("hub", "") is None
    decision = plan.pinned("hub", "registry.example/nb:1")
    assert decision.action is Action.PINNED
    assert "registry.example/nb:1" in decision.reason


def test_tags_and_buildargs():
    assert plan.target_tag("hub") == "dokku/hub-notebook:latest"
    assert plan.previous_tag("dokku/hub-notebook:latest") == "dokku/hub-notebook:previous"
    assert plan.repository("registry:5000/a/b:1") == "registry:5000/a/b"
    assert plan.repository("registry:5000/a/b") == "registry:5000/a/b"
    assert plan.repository("a@sha256:00") == "a"
    assert plan.buildargs(None) == {}
    assert plan.buildargs("base:1") == {"NOTEBOOK_BASE_IMAGE": "base:1"}


# --- the build stream and its failures ------------------------------------------------


def test_events_join_fragments_and_find_error_and_image():
    chunks = [
        {"stream": "Step 1/2 : FROM x"}, {"stream": "\n"},
        {"stream": "progress 10%\rprogress 100%\nhalf "}, {"stream": "line\n"},
        {"status": "Pulling from x", "id": "latest"},
        {"status": "Downloading", "progressDetail": {"current": 1}, "id": "abc"},
        {"aux": {"ID": "sha256:123"}},
        {"stream": "no newline at end"},
        {"errorDetail": {"message": "boom"}, "error": "boom"},
    ]
    got = [(e.kind, e.text) for e in engine.events(chunks)]
    assert got == [
        ("line", "Step 1/2 : FROM x"), ("line", "progress 100%"), ("line", "half line"),
        ("line", "latest Pulling from x"), ("image", "sha256:123"),
        ("line", "no newline at end"), ("error", "boom"),
    ]


def test_from_image_substitutes_global_args_and_buildargs():
    dockerfile = ("# c\nARG NOTEBOOK_BASE_IMAGE=jupyter/base:1\nARG OTHER\n"
                  "FROM ${NOTEBOOK_BASE_IMAGE}\n")
    step = "FROM ${NOTEBOOK_BASE_IMAGE}"
    assert engine.from_image(step, dockerfile, {}) == "jupyter/base:1"
    assert engine.from_image(step, dockerfile, {"NOTEBOOK_BASE_IMAGE": "local/b:2"}) == "local/b:2"
    assert engine.from_image("FROM --platform=linux/amd64 $X AS build", "ARG X=y:1\nFROM $X",
                             {}) == "y:1"
    assert engine.from_image("FROM ${X:-dflt}", "FROM a", {}) == "dflt"
    assert engine.from_image("RUN true", dockerfile, {}) is None


def test_explain_names_the_base_image_that_cannot_be_pulled():
    err = ('Get "https://registry-1.docker.io/v2/": dial tcp: '
           "lookup registry-1.docker.io: no such host")
    text = engine.explain(err, "FROM ${B}", "ARG B=jupyter/scipy-notebook\nFROM ${B}\n", {})
    assert text.startswith("base image jupyter/scipy-notebook cannot be pulled: build or load it "
                           "on this host, or set notebook-base-image")
    assert "no such host" in text
    blank = engine.explain("base name (${B}) should not be blank", "FROM ${B}", "FROM ${B}", {})
    assert "FROM names no valid image" in blank
    run = engine.explain("The command '/bin/sh -c false' returned a non-zero code: 1",
                         "RUN false", "FROM x\nRUN false\n", {})
    assert run == "The command '/bin/sh -c false' returned a non-zero code: 1"


def test_one_line_errors_hide_url_credentials():
    text = records.one_line("\n  fetch https://user:tok3n@git.example/x failed\nmore\n")
    assert text == "fetch https://***@git.example/x failed"
    assert len(records.one_line("x" * 1000)) == records.MAX_ERROR


# --- unpacking the archive from the hub image -----------------------------------------


def tar_of(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return tarfile.open(fileobj=buf, mode="r:")


def member(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, (data if kind == tarfile.REGTYPE else None)


def test_unpack_keeps_bytes_modes_links_and_strips_top(tmp_path):
    payload = bytes(range(256)) * 3
    tar = tar_of([
        member("images", tarfile.DIRTYPE, mode=0o755),
        member("images/run.sh", data=b"#!/bin/sh\n", mode=0o755),
        member("images/ro", tarfile.DIRTYPE, mode=0o555),
        member("images/ro/blob.bin", data=payload, mode=0o600),
        member("images/link", tarfile.SYMTYPE, link="run.sh"),
        member("images/hard", tarfile.LNKTYPE, link="images/run.sh"),
    ])
    context.unpack(tar, tmp_path)
    assert (tmp_path / "ro/blob.bin").read_bytes() == payload
    assert (tmp_path / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "ro/blob.bin").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "ro").stat().st_mode & 0o777 == 0o555
    assert os.readlink(tmp_path / "link") == "run.sh"
    assert (tmp_path / "hard").read_bytes() == b"#!/bin/sh\n"
    os.chmod(tmp_path / "ro", 0o755)  # let tmp_path be cleaned


@pytest.mark.parametrize(
    "members",
    [
        [member("images/../escape", data=b"x")],
        [member("images/dir", tarfile.SYMTYPE, link="/tmp"), member("images/dir/x", data=b"x")],
        [member("images/h", tarfile.LNKTYPE, link="/etc/passwd")],
    ],
)
def test_unpack_refuses_escapes(tmp_path, members):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DokkuError, match="unsafe"):
        context.unpack(tar_of(members), dest)
    assert not (tmp_path / "escape").exists()


def test_revision_from_image():
    image = context.HubImage("r", "id", {}, {"GIT_REV": "abc"})
    assert context.revision_from_image(image) == "abc"
    image = context.HubImage("r", "id", {context.REVISION_LABEL: "def"}, {})
    assert context.revision_from_image(image) == "def"
    assert context.revision_from_image(context.HubImage("r", "id", {}, {})) is None
    odd = context.HubImage("r", "id", {}, {"GIT_REV": "x; rm -rf / $(id)"})
    assert context.revision_from_image(odd) is None
    assert context.clean_revision(" 0123abcd\n") == "0123abcd"


def test_lock_file_made_by_another_user_still_locks():
    """A lock file root left read-only (a trigger run as root) still locks for `dokku`."""
    uid, gid = require_dokku_user()
    top = Path(tempfile.mkdtemp(prefix="djh-lock-", dir="/tmp"))
    try:
        top.chmod(0o755)
        lib = top / "lib"
        locks = lib / "data" / "jupyterhub" / "locks"
        locks.mkdir(parents=True)
        for d in (lib, lib / "data", lib / "data" / "jupyterhub", locks):
            os.chown(d, uid, gid)
        made_by_root = locks / "hub.lock"
        made_by_root.touch(mode=0o444)
        code = (
            "import fcntl, os\n"
            "from dokku_jupyterhub.notebook_build import lock\n"
            "with lock.app_lock('hub'):\n"
            "    fd = os.open(lock.lock_path('hub'), os.O_RDONLY)\n"
            "    try:\n"
            "        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "        print('not held')\n"
            "    except BlockingIOError:\n"
            "        print('held', os.getuid())\n"
        )
        run = subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--",
             sys.executable, "-c", code],
            capture_output=True, text=True, timeout=60,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DOKKU_LIB_ROOT": str(lib)},
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["held", str(uid)]
        assert os.stat(made_by_root).st_uid == 0
    finally:
        shutil.rmtree(top, ignore_errors=True)


# --- lock and records -----------------------------------------------------------------


def test_second_holder_waits_and_is_told(dokku_env):
    order = []
    waited = threading.Event()
    with lock.app_lock("hub"):
        def second():
            with lock.app_lock("hub", on_wait=waited.set):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        assert waited.wait(10)
        time.sleep(0.05)
        order.append("first-done")
    thread.join(10)
    assert order == ["first-done", "second"]
    assert lock.lock_path("hub").is_file()


def test_locks_of_different_apps_do_not_block(dokku_env):
    with lock.app_lock("one"), lock.app_lock("two", on_wait=lambda: pytest.fail("waited")):
        pass


def test_records_lifecycle(dokku_env):
    records.running("hub", "h1", "rev1")
    assert records.read("hub")[records.STATUS] == "running"
    records.ok("hub", "sha256:1", "h1", "rev1")
    records.failed("hub", "boom\ntrace", "h2", "rev2")
    got = records.read("hub")
    assert got[records.STATUS] == "failed"
    assert got[records.ERROR] == "boom"
    assert got[records.IMAGE_ID] == "sha256:1"  # still the image in service
    assert got[records.HASH] == "h2" and got[records.REVISION] == "rev2"
    records.skipped("hub", "sha256:1", "h1")
    got = records.read("hub")
    assert got[records.STATUS] == "skipped" and records.ERROR not in got
    assert got[records.TIME].endswith("Z")
    assert properties.get("hub", "last-build-status") == "skipped"
