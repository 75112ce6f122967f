"""A lesson goes on through hub deploys: a redeploy, a `ps:restart` and a deploy that changes
`images/`, two minutes apart, with a student working all along and each event watched for
six minutes after it (past the server's five-minute cache of who its user is, and the hub's
activity and culling rounds). Slow by nature (about 11 minutes): its own module, run once.

What must hold (issue 13): the kernel websocket opened before the first deploy executes code
after the last one without reconnecting; every JupyterLab call succeeds; the proxy is the
same container throughout while the hub is replaced three times, and only one hub runs at a
time; a server started after each event works; activity is still recorded (the active
student is never culled, an idle server is)."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
from bed import Browser, User, make_bed, wait_for
from lesson import KernelSocket, Lesson

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.postgres, pytest.mark.slow]

WATCH_AFTER = 360  # seconds watched after each event
APART = 120  # seconds between events
ADMINS = ("teacher", "idler", "late")


@pytest.fixture(scope="module")
def hub(engine, e2e_bases, postgres_ok):
    # The default idle timeout (300 s): the idle server must go within the watch.
    args = tuple(a for name in ADMINS for a in ("--admin", name))
    bed = make_bed(engine, postgres=True, azure=False, bases=e2e_bases, create_args=args)
    try:
        yield bed
    finally:
        bed.close()


def logged_in(hub, name: str) -> User:
    browser = Browser(hub)
    resp = browser.login_password(name, hub.admin_password())
    assert resp.ok and browser.name == name, resp.status_code
    return User(hub, browser)


class HubWatch:
    """Every 0.2 s: which hub containers run (never two) and which proxy container serves."""

    def __init__(self, hub) -> None:
        self.hub = hub
        self.most_hubs = 0
        self.proxies: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        name = f"dokku.jupyterhub.{self.hub.app}.proxy"
        while not self._stop.is_set():
            running = [c for c in self.hub.hub_containers() if c["State"] == "running"]
            self.most_hubs = max(self.most_hubs, len(running))
            for c in self.hub.cli.api.containers(filters={"name": f"^/{name}$"}):
                self.proxies.add(c["Id"])
            self._stop.wait(0.2)

    def start(self) -> HubWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_a_lesson_goes_on_through_three_hub_deploys(hub):
    teacher = logged_in(hub, "teacher")
    teacher.start()
    assert teacher.browser.open_server().ok  # the server's own cookie, as JupyterLab has
    server = teacher.container()
    env = dict(e.split("=", 1) for e in server.attrs["Config"]["Env"])
    # The server reaches the hub through the proxy, whose address outlives hub deploys.
    proxy = f"dokku.jupyterhub.{hub.app}.proxy"
    assert env["JUPYTERHUB_API_URL"] == f"http://{proxy}:8000/hub/api"

    idler = logged_in(hub, "idler")
    idler.start()  # and never used again
    late = logged_in(hub, "late")

    kernel = KernelSocket(teacher).open()
    lesson = Lesson(teacher, kernel).start()
    watch = HubWatch(hub).start()
    marker = secrets.token_hex(4)
    hubs_seen = {hub.hub_container().id}
    old_image = hub.notebook_image().id

    def push_images_change() -> None:
        files = hub.export()
        files["images/Dockerfile"] += (
            f'LABEL org.dokku-jupyterhub.e2e-marker="{marker}"\n'.encode())
        hub.push(files)

    events = [("redeploy", lambda: hub.dokku("ps:rebuild", hub.app)),
              ("restart", lambda: hub.dokku("ps:restart", hub.app)),
              ("images/ changed", push_images_change)]
    t0 = time.monotonic()
    try:
        for i, (what, action) in enumerate(events):
            time.sleep(max(0.0, t0 + i * APART - time.monotonic()))
            action()
            hub.wait_hub()
            hubs_seen.add(hub.hub_container().id)
            # A server started after the event works, through the new hub.
            late.start()
            assert late.api("GET", "/status").ok, what
            if what == "images/ changed":
                assert late.container().image.id == hub.notebook_image().id != old_image
            late.stop()
        last = t0 + (len(events) - 1) * APART
        while time.monotonic() < last + WATCH_AFTER:
            assert kernel.closed_at is None, "the kernel websocket was dropped"
            time.sleep(5)
    finally:
        lesson.stop()
        watch.stop()
        kernel.close()

    # The open notebook never noticed: same websocket, same kernel, every line answered.
    assert kernel.closed_at is None
    assert lesson.code.failures == []
    assert lesson.count >= (len(events) - 1) * APART / 2  # it kept executing all along
    assert lesson.code.longest_gap() < 10, lesson.code.longest_gap()
    # Every JupyterLab call was answered.
    assert lesson.api.failures == []
    assert len(lesson.api.records) > 1000
    # The proxy was never replaced; the hub was, each time, one at a time.
    assert watch.proxies == {hub.cli.containers.get(proxy).id}
    assert len(hubs_seen) == len(events) + 1
    assert watch.most_hubs == 1
    # Activity kept flowing to the hub: the working student kept their server, the idle one
    # was culled (idle timeout 300 s, well inside the watch).
    assert (teacher.server() or {}).get("ready")
    assert teacher.container().id == server.id
    wait_for("the idle server to be culled", lambda: idler.server() is None, 60)
