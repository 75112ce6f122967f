#!/usr/bin/env python3
"""What a student with an open notebook sees of hub redeploys (figures, not a test).

    .venv/bin/python bench/redeploy.py [--rounds N] [--keep]

Builds the bed as the e2e tests do (tests/e2e/bed.py: stand-in Dokku, `jupyterhub:create`,
PostgreSQL, the closed login), starts the admin's server, opens a kernel websocket and keeps
working (tests/e2e/lesson.py: a JupyterLab call every 0.1 s with the browser's cookie, a line
of code every 0.25 s), then for N rounds a `ps:restart` and a `ps:rebuild`, each watched
30 s. Per event: whether the websocket dropped, the longest time the kernel and the
JupyterLab calls went without an answer, failed calls, and how long the hub's own pages
(`/hub/health`) did not answer.

Baseline, in the same run: the same hub with its proxy inside the hub container, as hubs
were made before (`config:unset CONFIGPROXY_AUTH_TOKEN`), one `ps:restart`.
Goals (issue 13): no websocket drops, API gap under 2 s.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests", ROOT / "tests" / "e2e"):
    sys.path.insert(0, str(p))

import docker  # noqa: E402
import requests  # noqa: E402
from bed import Browser, User, make_bed  # noqa: E402
from lesson import Calls, KernelSocket, Lesson  # noqa: E402
from support import baseimages  # noqa: E402

from dokku_jupyterhub import hub_source  # noqa: E402

WATCH = 30.0


class HubPages(threading.Thread):
    """`/hub/health` every 0.1 s, as the login and spawn pages would be asked."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.calls, self.stop = url, Calls(), threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                ok = requests.get(f"{self.url}/hub/health", timeout=5).ok
            except requests.RequestException:
                ok = False
            self.calls.add(sent, ok, "health")
            self.stop.wait(0.1)


def window(calls: Calls, start: float, end: float) -> Calls:
    return Calls([r for r in calls.records if start <= r[0] < end])


def measure(bed, user: User, what: str, *cmd: str) -> dict:
    kernel = KernelSocket(user).open()
    lesson = Lesson(user, kernel, api_every=0.1, code_every=0.25).start()
    pages = HubPages(bed.url)
    pages.start()
    time.sleep(3)
    start = time.monotonic()
    bed.dokku(*cmd)
    bed.wait_hub()
    time.sleep(WATCH)
    end = time.monotonic()
    lesson.stop()
    pages.stop.set()
    kernel.close()
    code, api = window(lesson.code, start - 1, end), window(lesson.api, start - 1, end)
    return {
        "event": what,
        "ws dropped": kernel.closed_at is not None,
        "kernel gap s": code.longest_gap(),
        "api gap s": api.longest_gap(),
        "api failed": f"{len(api.failures)}/{len(api.records)}",
        "hub pages gap s": window(pages.calls, start - 1, end).longest_gap(),
    }


def show(rows: list[dict]) -> None:
    keys = list(rows[0])
    print("  ".join(f"{k:>16}" for k in keys))
    for row in rows:
        cells = []
        for k in keys:
            v = row[k]
            cells.append(f"{v:16.2f}" if isinstance(v, float) else f"{v!s:>16}")
        print("  ".join(cells))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="leave the bed running")
    args = ap.parse_args()

    cli = docker.from_env(timeout=600)
    bases = baseimages.ensure_for_rendered(
        cli, hub_source.render_files(hub_source.HubParams(app="bench")))
    bed = make_bed(cli, postgres=True, azure=False, bases=bases,
                   create_args=("--admin", "teacher", "--idle-timeout", "3600"))
    try:
        browser = Browser(bed)
        assert browser.login_password("teacher", bed.admin_password()).ok
        user = User(bed, browser)
        user.start()
        assert browser.open_server().ok
        rows = []
        for _ in range(args.rounds):
            rows.append(measure(bed, user, "ps:restart", "ps:restart", bed.app))
            rows.append(measure(bed, user, "redeploy", "ps:rebuild", bed.app))
        print("proxy outside the hub (this plugin):")
        show(rows)
        # The baseline: the proxy inside the hub container, as hubs were made before.
        bed.dokku("config:unset", bed.app, "CONFIGPROXY_AUTH_TOKEN")
        bed.wait_hub()
        assert browser.open_server().ok
        base = [measure(bed, user, "ps:restart", "ps:restart", bed.app)]
        print("baseline, proxy inside the hub container:")
        show(base)
        worst = max(r["api gap s"] for r in rows)
        print(f"longest JupyterLab API gap: {worst:.2f} s (baseline "
              f"{base[0]['api gap s']:.2f} s); websockets dropped: "
              f"{sum(r['ws dropped'] for r in rows)}/{len(rows)} "
              f"(baseline {sum(r['ws dropped'] for r in base)}/{len(base)})")
    finally:
        if args.keep:
            print(f"kept: {bed.app} at {bed.url} (root {bed.root})")
        else:
            bed.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
