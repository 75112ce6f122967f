#!/usr/bin/env bash
# Prints (not a test) the median wall time of the plugin's dispatch paths on this machine:
#   - `commands` answering "not mine" (exit 10) for another plugin's command  (goal <= 5 ms)
#   - `dokku jupyterhub:help` through the Dokku stand-in                        (goal <= 100 ms)
#   - the `install` trigger when the plugin's venv is current (a no-op)         (goal < 1 s)
# beside a bash `true` baseline measured in the same run. Run as root from the checkout:
#   bench/dispatch.sh [ROUNDS]
set -eo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
rounds="${1:-50}"

# median_ms CMD...: run CMD `rounds` times, print the median in milliseconds.
median_ms() {
  local i start end
  for ((i = 0; i < rounds; i++)); do
    start=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || true
    end=$EPOCHREALTIME
    echo "$start $end"
  done | awk '{ print ($2 - $1) * 1000 }' | sort -n | awk '{ a[NR] = $1 } END {
    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m }'
}

# A stand-in host with this working tree installed (pip runs once, ~10-30 s).
root="$(mktemp -d /tmp/djh-bench.XXXXXX)"
trap 'rm -rf "$root"' EXIT
python3 tests/standin/layout.py "$root"
# shellcheck source=tests/bats/helpers.bash
source tests/bats/helpers.bash
STANDIN_ROOT="$root"
export PATH="$root/usr/bin:$PATH"
# shellcheck disable=SC2119  # no extra plugin:install flags
standin_install_plugin >/dev/null 2>&1 || {
  echo "plugin:install failed in the stand-in; run: bats tests/bats/frame.bats" >&2
  exit 1
}
commands="$root/var/lib/dokku/plugins/enabled/jupyterhub/commands"
export DOKKU_NOT_IMPLEMENTED_EXIT=10

baseline="$(median_ms bash -c true)"
not_mine="$(median_ms "$commands" postgres:create db)"
help="$(median_ms dokku jupyterhub:help)"
# Dokku runs every plugin's install trigger on each plugin:install: ours must be a no-op.
install="$root/var/lib/dokku/plugins/enabled/jupyterhub/install"
noop="$(DOKKU_LIB_ROOT="$root/var/lib/dokku" median_ms "$install")"
printf '%-45s %8s ms\n' "bash -c true (baseline)" "$baseline" \
  "commands postgres:create (not mine)  goal 5" "$not_mine" \
  "dokku jupyterhub:help (stand-in)    goal 100" "$help" \
  "install trigger, venv current      goal 1000" "$noop"
echo "median of $rounds runs each; the stand-in switches to the dokku user like Dokku's sudo"
