#!/usr/bin/env bash
# Shared by every bats file: a fresh Dokku stand-in host (tests/standin) per test file, with
# `dokku` on PATH. Usage in a .bats file:
#
#   load helpers
#   setup_file() { standin_setup_file --plugin postgres; standin_install_plugin; }
#   teardown_file() { standin_teardown_file; }
#
# Exports: STANDIN_ROOT (the host's root), STANDIN_LIB_ROOT (its DOKKU_LIB_ROOT),
# STANDIN_DOKKU_ROOT (its DOKKU_ROOT), REPO_ROOT (this checkout); PATH starts with the
# stand-in's usr/bin (dokku, plugn). Set STANDIN_KEEP=1 to keep the root for debugging.
# shellcheck disable=SC2034  # variables used by the .bats files

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STANDIN_SRC="$REPO_ROOT/tests/standin"
STANDIN_PYTHON="$(command -v /usr/bin/python3 || command -v python3)"

# standin_setup_file [--plugin postgres|letsencrypt]...: create and enter a fresh stand-in host.
standin_setup_file() {
  # Under /tmp with mode 0755: the dokku user must reach it (bats' own tmpdirs are 0700).
  STANDIN_ROOT="$(mktemp -d /tmp/djh-standin.XXXXXX)"
  "$STANDIN_PYTHON" "$STANDIN_SRC/layout.py" "$STANDIN_ROOT" "$@"
  export STANDIN_ROOT
  export STANDIN_LIB_ROOT="$STANDIN_ROOT/var/lib/dokku"
  export STANDIN_DOKKU_ROOT="$STANDIN_ROOT/home/dokku"
  export PATH="$STANDIN_ROOT/usr/bin:$PATH"
}

standin_teardown_file() {
  [[ -n "$STANDIN_ROOT" && -d "$STANDIN_ROOT" ]] || return 0
  if [[ -n "$STANDIN_KEEP" ]]; then
    echo "# stand-in root kept at $STANDIN_ROOT" >&3
    return 0
  fi
  rm -rf "$STANDIN_ROOT"
}

# standin_checkout: a git repo holding THIS working tree (tracked and untracked, not ignored
# files), committed, so plugin:install tests the code as it is now. Prints its path, named
# dokku-jupyterhub so Dokku's default name rule gives `jupyterhub`.
standin_checkout() {
  local dest="$STANDIN_ROOT/src/dokku-jupyterhub"
  if [[ ! -d "$dest/.git" ]]; then
    mkdir -p "$dest"
    (cd "${STANDIN_CHECKOUT_FROM:-$REPO_ROOT}" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
      [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"
    done | tar -c --null -T - -f -) | tar -x -C "$dest"
    git -C "$dest" init --quiet --initial-branch=main
    git -C "$dest" add --all
    git -C "$dest" -c user.name=standin -c user.email=standin@localhost \
      commit --quiet -m "working tree snapshot"
  fi
  echo "$dest"
}

# standin_install_plugin [extra plugin:install args]: install this checkout as Dokku would.
standin_install_plugin() {
  dokku plugin:install "file://$(standin_checkout)" "$@"
}

# standin_state QUERY [args...]: the stand-in's state (see tests/standin/state.py).
standin_state() {
  "$STANDIN_PYTHON" "$STANDIN_SRC/state.py" --root "$STANDIN_ROOT" "$@"
}

# standin_calls [COMMAND]: the recorded `dokku` calls as JSON lines, optionally one command.
standin_calls() {
  standin_state calls "$@"
}

standin_reset_calls() {
  : >"$STANDIN_ROOT/calls.jsonl"
}

# standin_enable_plugin postgres|letsencrypt: as if that plugin were installed.
standin_enable_plugin() {
  "$STANDIN_PYTHON" "$STANDIN_SRC/layout.py" --enable "$STANDIN_ROOT" "$1"
}

# standin_as_dokku CMD...: run a command as the dokku user (as Dokku's commands run).
standin_as_dokku() {
  if [[ "$(id -u)" == 0 ]] && id -u dokku >/dev/null 2>&1; then
    HOME="$(getent passwd dokku | cut -d: -f6)" setpriv --reuid=dokku --regid=dokku \
      --init-groups -- "$@"
  else
    "$@"
  fi
}

# run_split CMD...: stdout in $out, stderr in $err, exit code in $status (bats' own
# --separate-stderr trims the leading space of Dokku's " !     " prefix).
run_split() {
  local errfile="$BATS_TEST_TMPDIR/stderr"
  status=0
  out="$("$@" 2>"$errfile")" || status=$?
  err="$(cat "$errfile")"
}
