#!/usr/bin/env bats
# The plugin frame through the Dokku stand-in: install, dispatch, help and the triggers behave
# as Dokku (v0.38) needs them to. The plugin is installed once per file (pip runs once).
# shellcheck disable=SC2016  # backquotes in expected output are Dokku's literal text
load helpers

setup_file() {
  standin_setup_file
  export PLUGIN_DIR="$STANDIN_LIB_ROOT/plugins/enabled/jupyterhub"
  export VENV="$STANDIN_LIB_ROOT/data/jupyterhub/venv"
  # The help text of the installed plugin (generated from its click commands).
  export HELP_FILE="$STANDIN_LIB_ROOT/plugins/available/jupyterhub/dokku_jupyterhub/help.txt"
  export DESCRIPTION="Run a multi-user JupyterHub with DockerSpawner on Dokku"
  # Kept for the first test to assert on: a failure here should read as a test failure.
  set +e
  standin_install_plugin >"$STANDIN_ROOT/install.out" 2>"$STANDIN_ROOT/install.err"
  echo $? >"$STANDIN_ROOT/install.rc"
  set -e
}

teardown_file() {
  standin_teardown_file
}

# A python3 that records every start, to prove a path never starts Python.
make_python_recorder() {
  mkdir -p "$STANDIN_ROOT/fakebin"
  cat >"$STANDIN_ROOT/fakebin/python3" <<EOF
#!/bin/sh
echo "\$0 \$*" >>"$STANDIN_ROOT/python-starts"
exit 99
EOF
  chmod 0755 "$STANDIN_ROOT/fakebin" "$STANDIN_ROOT/fakebin/python3"
  for alias in python python3.11 python3.12 python3.13; do
    ln -sf python3 "$STANDIN_ROOT/fakebin/$alias"
  done
  rm -f "$STANDIN_ROOT/python-starts"
  touch "$STANDIN_ROOT/python-starts"
  chmod 0666 "$STANDIN_ROOT/python-starts"
}

# make_fake_python VERSION HAS_VENV: an interpreter install's checks will reject.
make_fake_python() {
  local version="$1" has_venv="$2"
  cat >"$STANDIN_ROOT/fake-python" <<EOF
#!/bin/bash
case "\$*" in
  -V) echo "Python $version" ;;
  *version_info*) [[ "$version" == 3.1[0-9]* ]] ;;
  *ensurepip*) [[ "$has_venv" == yes ]] ;;
  *) exit 0 ;;
esac
EOF
  chmod 0755 "$STANDIN_ROOT/fake-python"
}

# run_capture CMD...: `run` with stderr apart in $stderr. (bats 1.8's --separate-stderr trims the
# leading spaces of ` !     ` lines, which these tests compare exactly.)
run_capture() {
  local errfile
  errfile="$(mktemp "$BATS_TEST_TMPDIR/stderr.XXXXXX")"
  run _stderr_to "$errfile" "$@"
  stderr="$(<"$errfile")"
  mapfile -t stderr_lines <"$errfile"
}

_stderr_to() {
  local file="$1"
  shift
  "$@" 2>"$file"
}

# What the last `run` saw; bats prints it when a test fails.
show() {
  echo "status=$status"
  echo "--- stdout"
  echo "$output"
  echo "--- stderr"
  echo "${stderr-}"
}

venv_fingerprint() {
  stat -c '%i %Y' "$VENV" "$VENV/pyvenv.cfg" "$VENV/bin/python3"
  cat "$STANDIN_LIB_ROOT/data/jupyterhub/venv.stamp"
}

@test "plugin:install file://<checkout> installs, enables and builds a venv the dokku user runs" {
  run cat "$STANDIN_ROOT/install.out" "$STANDIN_ROOT/install.err"
  echo "$output"
  [ "$(cat "$STANDIN_ROOT/install.rc")" -eq 0 ]
  grep -qx -- "-----> Plugin jupyterhub enabled" "$STANDIN_ROOT/install.out"
  grep -qx -- "-----> Installing the jupyterhub plugin's Python environment" "$STANDIN_ROOT/install.out"
  [ "$(readlink -f "$PLUGIN_DIR")" = "$STANDIN_LIB_ROOT/plugins/available/jupyterhub" ]
  [ -d "$VENV" ]
  # The venv's interpreter is the system one, readable by dokku (not root's pyenv or similar).
  run standin_as_dokku "$VENV/bin/python3" -I -c 'import click, docker, jinja2, dokku_jupyterhub; print(dokku_jupyterhub.__file__)'
  show
  [ "$status" -eq 0 ]
  [ "$output" = "$STANDIN_LIB_ROOT/plugins/available/jupyterhub/dokku_jupyterhub/__init__.py" ]
  # The plugin's files belong to dokku, as Dokku's own install trigger leaves them.
  [ "$(stat -c %U "$STANDIN_LIB_ROOT/plugins/available/jupyterhub/commands")" = dokku ]
  # `dokku --quiet help --all` ran after install and saw every command of help.txt.
  while IFS= read -r line; do
    cmd="$(echo "$line" | awk '{print $1}')"
    grep -qx -- "$cmd" "$STANDIN_ROOT/var/cache/dokku-completion"
  done <"$HELP_FILE"
}

@test "the install trigger run again by another plugin's install prints nothing and keeps the venv" {
  before="$(venv_fingerprint)"
  run_capture dokku plugin:install
  show
  [ "$status" -eq 0 ]
  # Only Dokku's own line: the plugin's install trigger said nothing.
  [ "$output" = "-----> Priming bash-completion cache" ]
  [ -z "$stderr" ]
  [ "$(venv_fingerprint)" = "$before" ]
  run_capture dokku plugin:update jupyterhub
  show
  [ "$status" -eq 0 ]
  [ "$(venv_fingerprint)" = "$before" ]
}

@test "installing the same URL again fails the way Dokku does" {
  run_capture dokku plugin:install "file://$(standin_checkout)"
  show
  [ "$status" -eq 1 ]
  [ "${stderr_lines[-1]}" = " !     Plugin already enabled" ]
}

@test "commands help prints exactly one line" {
  run_capture "$PLUGIN_DIR/commands" help
  show
  [ "$status" -eq 0 ]
  [ "$output" = "    jupyterhub, $DESCRIPTION" ]
  [ -z "$stderr" ]
}

@test "dokku help shows the plugin once among the others" {
  run_capture dokku help
  show
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$(grep -c '^    jupyterhub ' <<<"$output")" -eq 1 ]
  grep -Eqx "    jupyterhub +$DESCRIPTION" <<<"$output"
  grep -Eqx "    apps +Manage apps" <<<"$output"
  # With a terminal Dokku adds its header; the community section holds the plugin.
  DOKKU_FORCE_TTY=true run_capture dokku help
  show
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Usage: dokku [--quiet|--trace|--force] COMMAND <app> [command-specific-options]" ]
  [ "$(sed -n '/^Community plugin commands:$/,$p' <<<"$output" | grep -c '^    jupyterhub ')" -eq 1 ]
}

@test "dokku help --all lists every command with its arguments" {
  run_capture dokku help --all
  show
  [ "$status" -eq 0 ]
  while IFS= read -r line; do
    usage="${line%%,*}"
    grep -qF -- "$usage " <<<"$output"$'\n' || grep -qxF -- "$usage" <<<"$output"
  done <"$HELP_FILE"
}

@test "help.txt lines are in Dokku's help format" {
  while IFS= read -r line; do
    [[ "$line" =~ ^\ \ \ \ jupyterhub:[a-z][a-z:-]*(\ [^,]*)?,\ [^,]+$ ]] || {
      echo "bad help line: $line"
      false
    }
  done <"$HELP_FILE"
}

@test "dokku jupyterhub:help lists the commands aligned as Dokku's plugins do" {
  expected="$(printf 'Usage: dokku jupyterhub[:COMMAND]\n\n%s\n\nAdditional commands:\n' "$DESCRIPTION"
    LC_ALL=C sort "$HELP_FILE" | column -c2 -t -s,)"
  run_capture dokku jupyterhub:help
  show
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$output" = "$expected" ]
  # Same shape as a Dokku plugin's own help (the stand-in's apps plugin).
  run dokku apps:help
  [ "${lines[0]}" = "Usage: dokku apps[:COMMAND]" ]
  [ "${lines[2]}" = "Additional commands:" ]
  # Bare `dokku jupyterhub` (subcommands/default) prints the same.
  run_capture dokku jupyterhub
  show
  [ "$status" -eq 0 ]
  [ "$output" = "$expected" ]
}

@test "every description starts in one column" {
  run dokku jupyterhub:help
  cols="$(sed -n '/^Additional commands:$/,$p' <<<"$output" | tail -n +2 | while IFS= read -r l; do
    # Column of the description: where the help file's description text begins.
    desc="$(grep -F -- "$(awk '{print $1}' <<<"$l") " "$HELP_FILE" | head -n1 | sed 's/^[^,]*, //')"
    prefix="${l%"$desc"}"
    echo "${#prefix}"
  done | sort -u)"
  [ "$(wc -l <<<"$cols")" -eq 1 ]
}

@test "dokku jupyterhub:nope fails exactly as Dokku does" {
  run_capture dokku jupyterhub:nope
  show
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "$stderr" = ' !     `jupyterhub:nope` is not a dokku command.
 !     See `dokku help` for a list of available commands.' ]
}

@test "dokku nope fails exactly as Dokku does" {
  run_capture dokku nope a b
  show
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ "$stderr" = ' !     `nope a b` is not a dokku command.
 !     See `dokku help` for a list of available commands.' ]
}

@test "--quiet: help stays complete, Dokku's own header goes" {
  run_capture dokku jupyterhub:help
  full="$output"
  run_capture dokku --quiet jupyterhub:help
  show
  [ "$status" -eq 0 ]
  [ "$output" = "$full" ]
  run_capture dokku jupyterhub:help --quiet
  show
  [ "$status" -eq 0 ]
  [ "$output" = "$full" ]
  DOKKU_FORCE_TTY=true run_capture dokku --quiet help
  show
  [ "$status" -eq 0 ]
  [[ "$output" != *"Usage: dokku"* ]]
  grep -Eqx "    jupyterhub +$DESCRIPTION" <<<"$output"
}

@test "--trace: the plugin's shell traces, output unchanged" {
  run_capture dokku jupyterhub:help
  full="$output"
  for argv in "--trace jupyterhub:help" "jupyterhub:help --trace"; do
    # shellcheck disable=SC2086
    run_capture dokku $argv
    [ "$status" -eq 0 ]
    [ "$output" = "$full" ]
    grep -qx -- "+ column -c2 -t -s," <<<"$stderr"
  done
}

@test "commands answers 'not mine' with exit 10 and never starts Python" {
  make_python_recorder
  # The recorder does record (so an empty log below means something).
  PATH="$STANDIN_ROOT/fakebin:$PATH" python3 -c pass || true
  [ -s "$STANDIN_ROOT/python-starts" ]
  : >"$STANDIN_ROOT/python-starts"
  for cmd in apps:list postgres:create jupyterhubx jupyterhub:nope ""; do
    run env PATH="$STANDIN_ROOT/fakebin:/usr/bin:/bin" DOKKU_NOT_IMPLEMENTED_EXIT=10 \
      "$PLUGIN_DIR/commands" "$cmd" a b
    [ "$status" -eq 10 ]
    [ -z "$output" ]
  done
  # Through Dokku's dispatch as the dokku user, with the recorder first on the secure path.
  export STANDIN_SECURE_PATH="$STANDIN_ROOT/fakebin:$STANDIN_ROOT/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  run dokku nope
  show
  [ "$status" -eq 1 ]
  run dokku help
  show
  [ "$status" -eq 0 ]
  run dokku jupyterhub:help
  show
  [ "$status" -eq 0 ]
  [ ! -s "$STANDIN_ROOT/python-starts" ]
}

@test "the Python entry point: one line without --trace, a traceback with it" {
  # subcommands/default is the shim every subcommand links to; an unknown name reaches Python.
  run_capture standin_as_dokku env DOKKU_LIB_ROOT="$STANDIN_LIB_ROOT" \
    "$PLUGIN_DIR/subcommands/default" jupyterhub:zzz
  show
  [ "$status" -eq 1 ]
  [ "$stderr" = ' !     `jupyterhub:zzz` is not a dokku command.' ]
  run_capture standin_as_dokku env DOKKU_LIB_ROOT="$STANDIN_LIB_ROOT" \
    "$PLUGIN_DIR/subcommands/default" jupyterhub:zzz --trace
  show
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"Traceback (most recent call last)"* ]]
  [ "${stderr_lines[-1]}" = ' !     `jupyterhub:zzz` is not a dokku command.' ]
}

@test "code in the caller's working directory is never imported" {
  work="$STANDIN_ROOT/work"
  mkdir -p "$work/click" "$work/dokku_jupyterhub"
  echo "open('$STANDIN_ROOT/hijacked', 'w')" >"$work/click/__init__.py"
  cp "$work/click/__init__.py" "$work/dokku_jupyterhub/__init__.py"
  chmod -R a+rX "$work"
  cd "$work"
  run_capture standin_as_dokku env DOKKU_LIB_ROOT="$STANDIN_LIB_ROOT" \
    "$PLUGIN_DIR/subcommands/default" jupyterhub:zzz
  show
  [ "$status" -eq 1 ]
  [ ! -e "$STANDIN_ROOT/hijacked" ]
}

@test "install refuses a python without venv in one clear line and keeps the old venv" {
  before="$(venv_fingerprint)"
  make_fake_python 3.11.2 no
  DOKKU_JUPYTERHUB_PYTHON="$STANDIN_ROOT/fake-python" run_capture dokku plugin:install
  show
  [ "$status" -eq 1 ]
  [ "$stderr" = " !     python3-venv is missing: apt-get install -y python3-venv (or: dokku plugin:install-dependencies)" ]
  [ "$(venv_fingerprint)" = "$before" ]
}

@test "install refuses a too old python in one clear line" {
  before="$(venv_fingerprint)"
  make_fake_python 3.8.10 yes
  DOKKU_JUPYTERHUB_PYTHON="$STANDIN_ROOT/fake-python" run_capture dokku plugin:install
  show
  [ "$status" -eq 1 ]
  [ "$stderr" = " !     Python 3.10 or newer is needed, found Python 3.8.10: install a newer python3" ]
  [ "$(venv_fingerprint)" = "$before" ]
}

@test "dependencies has nothing to do when python3-venv is present" {
  # tests/run-all installs both, so the trigger must find nothing to do.
  run_capture dokku plugin:install-dependencies
  show
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -z "$stderr" ]
}

@test "uninstall acts only when the plugin removed is jupyterhub, and keeps apps' data" {
  mkdir -p "$STANDIN_LIB_ROOT/config/jupyterhub/hub"
  printf true >"$STANDIN_LIB_ROOT/config/jupyterhub/hub/hub-app"
  standin_enable_plugin postgres
  run_capture dokku plugin:uninstall postgres
  show
  [ "$status" -eq 0 ]
  [ -d "$VENV" ]
  [[ "$output" != *jupyterhub* ]]
  run_capture dokku plugin:uninstall jupyterhub
  show
  [ "$status" -eq 0 ]
  grep -qx -- "-----> Removed the jupyterhub plugin's Python environment; hub apps and their data are kept" <<<"$output"
  [ ! -e "$VENV" ]
  [ ! -e "$PLUGIN_DIR" ]
  [ "$(cat "$STANDIN_LIB_ROOT/config/jupyterhub/hub/hub-app")" = true ]
  run dokku help
  [[ "$output" != *jupyterhub* ]]
}
