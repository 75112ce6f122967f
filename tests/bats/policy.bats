#!/usr/bin/env bats
# Policy commands through `dokku jupyterhub:...` with the plugin installed in the Dokku
# stand-in: Dokku's dispatch (subcommands/ links), the switch to the dokku user, output and
# exit codes, and bad input leaving the policy file untouched.

load helpers

setup_file() {
  standin_setup_file
  standin_install_plugin
  dokku apps:create hub
  # What create leaves behind that these commands rely on: the marker property and the data
  # root, both owned by the dokku user as Dokku's own files are.
  local props="$STANDIN_LIB_ROOT/config/jupyterhub/hub"
  mkdir -p "$props" "$STANDIN_LIB_ROOT/data/storage/hub/data"
  printf 'true' >"$props/hub-app"
  chmod 0600 "$props/hub-app"
  if id -u dokku >/dev/null 2>&1; then
    chown -R dokku:dokku "$props" "$STANDIN_LIB_ROOT/data/storage/hub"
  fi
  export POLICY="$STANDIN_LIB_ROOT/data/storage/hub/data/policy.json"
}

teardown_file() {
  standin_teardown_file
}

fingerprint() {
  echo "$(sha256sum "$POLICY" | cut -d' ' -f1) $(stat -c %Y.%y "$POLICY")"
}

@test "admins:add lowercases, writes the policy as the dokku user, and is idempotent" {
  run dokku jupyterhub:admins:add hub Alice
  [ "$status" -eq 0 ]
  [[ "$output" == *"Alice is written as alice: JupyterHub lowercases usernames"* ]]
  [[ "$output" == *"-----> Added alice as an admin"* ]]
  grep -q '"alice"' "$POLICY"
  if id -u dokku >/dev/null 2>&1; then
    [ "$(stat -c %U "$POLICY")" = "dokku" ]
  fi
  before="$(fingerprint)"
  run dokku jupyterhub:admins:add hub alice
  [ "$status" -eq 0 ]
  [ "$output" = "-----> alice is already an admin: nothing to change" ]
  [ "$(fingerprint)" = "$before" ]
  run dokku jupyterhub:admins:list hub
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "=====> hub admins" ]
  [ "${lines[1]}" = "alice" ]
}

@test "groups: create with its folder, add members, list as json" {
  run dokku jupyterhub:groups:create hub physics --members-mode rw
  [ "$status" -eq 0 ]
  [[ "$output" == *"-----> Created group physics (members rw)"* ]]
  [ -d "$STANDIN_LIB_ROOT/data/storage/hub/data/groups/physics" ]
  if id -u dokku >/dev/null 2>&1; then
    # commands run as the dokku user: the hub sets the notebook user's ownership at spawn
    [[ "$output" == *"the hub gives it to 1000:100 (the notebook user)"* ]]
  fi
  run dokku jupyterhub:groups:add-member hub physics bob carol
  [ "$status" -eq 0 ]
  run dokku jupyterhub:groups:members hub physics --format json
  [ "$status" -eq 0 ]
  [ "$output" = '["bob", "carol"]' ]
}

@test "limits: set for a group, listed; users:list shows the effective limits" {
  run dokku jupyterhub:limits:set hub @physics --memory 1G --cpu 1
  [ "$status" -eq 0 ]
  [[ "$output" == *"-----> Set memory of @physics to 1G"* ]]
  run dokku jupyterhub:limits:list hub
  [ "$status" -eq 0 ]
  [[ "$output" == *"@physics   1G      1"* ]]
  run dokku jupyterhub:users:list hub --format json
  [ "$status" -eq 0 ]
  echo "$output" | grep -v '^ !' | python3 -c '
import json, sys
rows = {r["name"]: r for r in json.load(sys.stdin)}
assert rows["bob"]["memory"] == "1G", rows
assert rows["alice"]["memory"] == "350m", rows
assert rows["alice"]["admin"] is True, rows
'
}

@test "bad input: one error line, non-zero exit, policy untouched" {
  before="$(fingerprint)"
  for args in \
    "limits:set hub bob --memory 10P" \
    "limits:set hub bob --memory -1" \
    "limits:set hub bob --cpu 0" \
    "limits:set hub bob --cpu 0.005" \
    "limits:set hub --default --memory 6m" \
    "limits:set hub bob --memory 100m" \
    "limits:set hub --default --cpu 1e-9" \
    "groups:add-member hub nope bob" \
    "admins:add hub ../x" \
    "groups:create hub a/b" \
    "admins:add nohub bob"; do
    # shellcheck disable=SC2086  # split the table row into arguments
    run_split dokku jupyterhub:$args
    [ "$status" -ne 0 ] || { echo "accepted: $args"; return 1; }
    [ -z "$out" ]
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]
    [[ "$err" == " !     "* ]] || { echo "not a Dokku error line: $err"; return 1; }
    [ "$(fingerprint)" = "$before" ]
  done
  run_split dokku jupyterhub:admins:list nohub
  [ "$status" -eq 1 ]
  [ "$err" = " !     nohub is not a jupyterhub app" ]
}

@test "a name no app can have is refused first, by every command, with one line" {
  for args in "export a/b out" "auth:set .. none" "users:list a/b" "rebuild-image ../x" \
    "set a/b idle-timeout 600" "report a/b" "groups:list .hidden" "limits:list a/b" \
    "destroy a/b --force"; do
    # shellcheck disable=SC2086  # split the table row into arguments
    run_split dokku jupyterhub:$args
    [ "$status" -ne 0 ] || { echo "accepted: $args"; return 1; }
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { echo "$args: $err"; return 1; }
    [[ "$err" == " !     "*" is not a jupyterhub app"* ]] || { echo "$args: $err"; return 1; }
  done
}

@test "help lists the policy commands" {
  run dokku jupyterhub:help
  [ "$status" -eq 0 ]
  for cmd in admins:add groups:create groups:add-member limits:set limits:unset users:list; do
    [[ "$output" == *"jupyterhub:$cmd"* ]] || { echo "missing $cmd"; return 1; }
  done
}

@test "a policy.json that is not UTF-8 is one clear line everywhere, and dokku report goes on" {
  cp -p "$POLICY" "$BATS_TEST_TMPDIR/policy.good"
  printf '{"version": 1, "admins": ["\xff"]}\n' >"$POLICY"
  before="$(fingerprint)"
  for args in "admins:list hub" "users:list hub" "admins:add hub bob" \
    "limits:set hub --default --memory 1G" "groups:list hub"; do
    # shellcheck disable=SC2086  # split the table row into arguments
    run_split dokku jupyterhub:$args
    [ "$status" -ne 0 ] || { echo "accepted: $args"; return 1; }
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { echo "$args: $err"; return 1; }
    [[ "$err" == " !     $POLICY is invalid: policy is not UTF-8 text"*"restore it"* ]] \
      || { echo "$args: $err"; return 1; }
    [ "$(fingerprint)" = "$before" ]
  done
  run_split dokku jupyterhub:report hub
  [ "$status" -eq 0 ]
  [[ "$out" == *"invalid policy: policy is not UTF-8 text"* ]]
  run_split dokku report hub
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  [[ "$out" == *"hub jupyterhub information"* ]]
  [[ "$err" != *Traceback* ]]
  cp -p "$BATS_TEST_TMPDIR/policy.good" "$POLICY"
}


@test "a limit that another rule outbids is set, and says at once that it changes nothing" {
  run_split dokku jupyterhub:limits:set hub student2 --memory 200m
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  [[ "$out" == *"-----> Set memory of student2 to 200m"* ]]
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]
  [[ "$err" == " !     student2 still gets 350m of memory, not 200m: the largest limit"* ]]
  run_split dokku jupyterhub:limits:set hub student2 --memory 1G
  [ "$status" -eq 0 ]
  [ -z "$err" ]
}

@test "a full disk is one line, and groups:create leaves no folder behind" {
  data="$STANDIN_LIB_ROOT/data/storage/hub/data"
  cp -a "$data" "$BATS_TEST_TMPDIR/data.saved"
  mount -t tmpfs -o size=256k tmpfs "$data"
  cp -a "$BATS_TEST_TMPDIR/data.saved/." "$data/" || { umount "$data"; false; }
  if id -u dokku >/dev/null 2>&1; then chown dokku:dokku "$data"; fi
  dd if=/dev/zero of="$data/fill" bs=4k 2>/dev/null || true
  run_split dokku jupyterhub:groups:create hub chemistry
  status_was=$status
  ls "$data/groups" >"$BATS_TEST_TMPDIR/groups.after" || true
  umount "$data"
  [ "$status_was" -eq 1 ]
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]
  [[ "$err" == " !     no space left on $data: policy.json was not changed" ]]
  ! grep -qx chemistry "$BATS_TEST_TMPDIR/groups.after"
}
