#!/usr/bin/env python3
"""Spawn times of the end-to-end bed's hub (figures, not a test).

    .venv/bin/python bench/spawn.py [--sequential N] [--concurrent N] [--keep]

Builds the bed as the e2e tests do (tests/e2e/bed.py: stand-in Dokku, `jupyterhub:create`,
the hub on its Docker network, PostgreSQL, Azure AD stand-in) with N users allowed, then:

1. one user: spawn request -> server ready, N times in a row (stop and wait until the
   container is gone between), median and p95;
2. N users spawning at once: all ready? failures? p95 of request -> ready, and the hub
   container's CPU (% of one core) and memory while it happens;
3. with `--gate-vs-direct N`: N sequential spawns through the app's Docker gate, then N with
   the Docker socket mounted into the hub instead (the baseline), twice in turn, each mode's
   median and the ratio gate/direct (goal, issue 20: within 5 %).

"Ready" is the hub's own view (`servers[""].ready` in its REST API, polled every 0.2 s), the
moment a browser would be redirected to the server. Goals (issue 7): median <= 5 s on
overlay2, 20 at once all ready with p95 <= 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests", ROOT / "tests" / "e2e"):
    sys.path.insert(0, str(p))

import docker  # noqa: E402
from bed import Browser, User, make_bed, wait_for  # noqa: E402
from support import baseimages  # noqa: E402

from dokku_jupyterhub import hub_source  # noqa: E402


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class HubSampler:
    """Samples the hub container's CPU and memory once a second (docker stats)."""

    def __init__(self, container) -> None:
        self.container = container
        self.cpu: list[float] = []
        self.mem: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            s = self.container.stats(stream=False)
            cpu = s["cpu_stats"]["cpu_usage"]["total_usage"] - \
                s["precpu_stats"]["cpu_usage"]["total_usage"]
            system = s["cpu_stats"].get("system_cpu_usage", 0) - \
                s["precpu_stats"].get("system_cpu_usage", 0)
            cpus = s["cpu_stats"].get("online_cpus") or 1
            if system > 0:
                self.cpu.append(100.0 * cpu / system * cpus)
            self.mem.append(s["memory_stats"].get("usage", 0))

    def __enter__(self) -> HubSampler:
        self._host0 = host_cpu_times()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        busy0, total0 = self._host0
        busy1, total1 = host_cpu_times()
        self.host_busy = 100.0 * (busy1 - busy0) / max(total1 - total0, 1)


def host_cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


SOCKET = "/var/run/docker.sock:/var/run/docker.sock"


def use_gate(bed, gate: bool) -> None:
    """The hub reaching Docker through its gate (as create makes it), or with the socket."""
    if gate:
        bed.dokku("storage:unmount", bed.app, SOCKET)
        bed.dokku("config:set", bed.app, "HUB_DOCKER_GATE=/run/dokku-gate/docker.sock")
    else:
        bed.dokku("storage:mount", bed.app, SOCKET)
        bed.dokku("config:unset", bed.app, "HUB_DOCKER_GATE")
    bed.wait_hub()


def gate_vs_direct(bed, one: User, n: int) -> None:
    times: dict[str, list[float]] = {"gate": [], "direct": []}
    current = "gate"  # as create made the hub
    for mode in ("gate", "direct", "gate", "direct"):
        if mode != current:
            use_gate(bed, mode == "gate")
            current = mode
        one.start()  # a first spawn after the hub restart warms it up: not counted
        one.stop()
        for _ in range(n):
            times[mode].append(one.start())
            one.stop()
    use_gate(bed, True)
    gate, direct = (statistics.median(times[m]) for m in ("gate", "direct"))
    print(f"spawns through the Docker gate vs with the socket ({2 * n} each, in turn): "
          f"median {gate:.2f} s vs {direct:.2f} s, ratio {gate / direct:.3f}; "
          f"p95 {p95(times['gate']):.2f} s vs {p95(times['direct']):.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequential", type=int, default=10)
    ap.add_argument("--concurrent", type=int, default=20)
    ap.add_argument("--gate-vs-direct", type=int, default=0, metavar="N",
                    help="N spawns through the Docker gate vs with the socket, in turn")
    ap.add_argument("--keep", action="store_true", help="leave the bed running (debugging)")
    args = ap.parse_args()

    cli = docker.from_env(timeout=900)
    driver = cli.info().get("Driver")
    t0 = time.monotonic()
    bases = baseimages.ensure_for_rendered(
        cli, hub_source.render_files(hub_source.HubParams(app="bench")))
    print(f"base images ready in {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    bed = make_bed(cli, postgres=True, azure=True, bases=bases,
                   create_args=("--admin", "bench-admin--school-edu",
                                "--idle-timeout", "3600"))
    try:
        print(f"bed up (create + deploy + notebook build) in {time.monotonic() - t0:.1f} s")
        names = [f"User.{i:02d}@school.edu" for i in range(max(args.concurrent, 1))]
        for upn in names:
            bed.idp.add(upn)
        bed.dokku("jupyterhub:users:add", bed.app, *[f"user-{i:02d}--school-edu"
                                                      for i in range(len(names))])
        idp = bed.idp
        bed.dokku("jupyterhub:auth:set", bed.app, "azuread", "--client-id", idp.client_id,
                  "--client-secret", "-", "--tenant-id", idp.tenant,
                  "--callback-url", f"{bed.url}/hub/oauth_callback",
                  "--authorize-url", idp.authorize_url, "--token-url", idp.token_url,
                  "--jwks-url", idp.jwks_url,
                  input=idp.client_secret.encode() + b"\n")
        bed.wait_hub()
        users = []
        for upn in names:
            browser = Browser(bed)
            assert browser.login_azure(upn).ok, upn
            users.append(User(bed, browser))

        if args.sequential:
            times = []
            one = users[0]
            for _ in range(args.sequential):
                times.append(one.start())
                one.stop()
            print(f"sequential spawns ({args.sequential}, storage driver {driver}): "
                  f"median {statistics.median(times):.2f} s, p95 {p95(times):.2f} s, "
                  f"min {min(times):.2f} s, max {max(times):.2f} s")

        if args.gate_vs_direct:
            gate_vs_direct(bed, users[0], args.gate_vs_direct)

        if args.concurrent:
            batch = users[:args.concurrent]
            results: dict[str, float | str] = {}

            def spawn(user: User) -> None:
                try:
                    results[user.name] = user.start(timeout=300)
                except AssertionError as exc:
                    results[user.name] = f"failed: {exc}"

            with HubSampler(bed.hub_container()) as sampler, \
                    ThreadPoolExecutor(len(batch)) as pool:
                wall = time.monotonic()
                list(pool.map(spawn, batch))
                wall = time.monotonic() - wall
            ok = [v for v in results.values() if isinstance(v, float)]
            failed = [f"{k}: {v}" for k, v in results.items() if not isinstance(v, float)]
            print(f"concurrent spawns: {len(batch)} requested, {len(ok)} ready, "
                  f"{len(failed)} failed, wall {wall:.1f} s")
            if ok:
                print(f"  request -> ready: median {statistics.median(ok):.2f} s, "
                      f"p95 {p95(ok):.2f} s, max {max(ok):.2f} s")
            if sampler.cpu:
                print(f"  hub CPU: mean {statistics.mean(sampler.cpu):.0f} %, "
                      f"peak {max(sampler.cpu):.0f} % (100 % = one core)")
            if sampler.mem:
                print(f"  hub memory: peak {max(sampler.mem) / 2**20:.0f} MiB")
            print(f"  host CPU busy meanwhile: {sampler.host_busy:.0f} % of "
                  f"{os.cpu_count()} cores")
            for line in failed:
                print(f"  {line}")
            containers = [c for c in (bed.notebook_container(u.name) for u in batch) if c]
            cpu = sum(c.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"]
                      for c in containers) / 1e9
            busy = sampler.host_busy / 100 * (os.cpu_count() or 1) * wall
            print(f"  notebook containers running: {len(containers)}, their CPU so far "
                  f"{cpu:.0f} s ({cpu / max(len(containers), 1):.1f} s each) of "
                  f"{busy:.0f} CPU-s the host spent")
            for user in batch:
                wait_for("stop", lambda u=user: u.hub(
                    "DELETE", f"/users/{u.name}/server").status_code in (202, 204, 400), 60)
        return 0
    finally:
        if args.keep:
            print(f"kept: app {bed.app}, root {bed.root}, hub {bed.url}")
        else:
            bed.close()


if __name__ == "__main__":
    sys.exit(main())
