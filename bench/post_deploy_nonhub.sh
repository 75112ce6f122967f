#!/usr/bin/env bash
# Benchmark (prints figures, asserts nothing): the `post-deploy` trigger for an app that is
# not a hub app, which Dokku runs on every deploy of every app. Goal: median <= 5 ms, shown
# beside a bash script that only runs `true` (the floor: starting bash at all).
#   bench/post_deploy_nonhub.sh [RUNS]
set -euo pipefail
runs="${1:-300}"
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export DOKKU_LIB_ROOT="$tmp/lib"
mkdir -p "$DOKKU_LIB_ROOT/config/jupyterhub/hub"
touch "$DOKKU_LIB_ROOT/config/jupyterhub/hub/hub-app"  # another app is a hub: realistic layout
printf '#!/usr/bin/env bash\ntrue\n' > "$tmp/true.sh"
chmod +x "$tmp/true.sh"

# Milliseconds of each run of "$@", one per line.
timings() {
  local i start end
  for ((i = 0; i < runs; i++)); do
    start="$EPOCHREALTIME"
    "$@" >/dev/null
    end="$EPOCHREALTIME"
    echo "$start $end"
  done | awk '{ printf "%.4f\n", ($2 - $1) * 1000 }'
}

# median and 90th percentile of numbers on stdin
stats() {
  sort -n | awk '{ v[NR] = $1 } END {
    printf "median %6.2f ms   p90 %6.2f ms   (%d runs)", v[int((NR + 1) / 2)], v[int(NR * 0.9)], NR }'
}

timings "$tmp/true.sh" >/dev/null  # warm the page cache for both
timings "$root/post-deploy" other-app "" "" latest >/dev/null
echo "post-deploy of a non-hub app (goal: median <= 5 ms)"
printf '  %-34s %s\n' "bash script running true:" "$(timings "$tmp/true.sh" | stats)"
printf '  %-34s %s\n' "post-deploy other-app '' '' latest:" \
  "$(timings "$root/post-deploy" other-app "" "" latest | stats)"
