#!/usr/bin/env bats
# create / report / list / set / destroy through `dokku jupyterhub:*` with the plugin installed
# in the Dokku stand-in (which refuses the syntax real Dokku refuses and keeps its state),
# including an interrupted create (STANDIN_FAIL) finished by a rerun.

load helpers

setup_file() {
  standin_setup_file --plugin postgres --plugin letsencrypt
  standin_install_plugin
  # Deploys record themselves without running post-deploy (the notebook build has its own
  # suite): this file is about what create asks of Dokku.
  export STANDIN_DEPLOY_HOOK="$STANDIN_ROOT/deploy-hook"
  printf '#!/bin/sh\nexit 0\n' >"$STANDIN_DEPLOY_HOOK"
  chmod 0755 "$STANDIN_DEPLOY_HOOK"
  export DATA="$STANDIN_LIB_ROOT/data/storage/hub/data"
  # The hub refuses shorter admin passwords: the one number both sides must agree on.
  PW_MIN="$(cd "$REPO_ROOT" && "$STANDIN_PYTHON" -c \
    'from dokku_jupyterhub.hub_runtime.settings import ADMIN_PASSWORD_MIN_LENGTH as m; print(m)')"
  export PW_MIN
}

teardown_file() {
  standin_teardown_file
}

# The state-changing calls the plugin made (the stand-in's own nested calls left out).
changes() {
  standin_calls | python3 -c '
import json, sys
READ = ("apps:exists", "config:export", "config:get", "storage:list", "domains:report",
        "ports:report", "network:exists", "network:report", "nginx:report", "postgres:exists",
        "postgres:info", "letsencrypt:report", "git:report", "ps:report", "checks:report")
for line in sys.stdin:
    argv = json.loads(line)["argv"]
    if argv[0].startswith("jupyterhub:") or argv[0] in READ or argv[0].startswith("docker-options:"):
        continue
    if argv[0] == "config:set" and any(a.startswith("DATABASE_URL=") for a in argv):
        continue  # postgres:link sets it
    print(" ".join(argv))
'
}

@test "create issues the documented commands in Dokku 0.38 syntax and wires everything" {
  standin_reset_calls
  run_split dokku jupyterhub:create hub --domain hub.example.edu --admin alice \
    --letsencrypt-email admin@example.edu
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  run changes
  expected=(
    "apps:create hub"
    "domains:add hub hub.example.edu"
    "ports:set hub http:80:8000"
    "storage:mount hub $STANDIN_LIB_ROOT/data/storage/hub/gate:/run/dokku-gate"
    "network:create hub-network"
    "network:set hub attach-post-create hub-network"
    "network:set hub bind-all-interfaces false"
    "checks:disable hub web"
  )
  for i in "${!expected[@]}"; do
    [ "${lines[$i]}" = "${expected[$i]}" ] || { echo "line $i: ${lines[$i]}"; false; }
  done
  [[ "${lines[8]}" == "config:set --no-restart hub DOCKER_NETWORK_NAME=hub-network HUB_IP=hub.web "* ]]
  rest=(
    "storage:mount hub $DATA:/data"
    "nginx:set hub client-max-body-size 30m"
    "nginx:set hub proxy-read-timeout 3600s"
    "proxy:build-config hub"
    "postgres:create hub-db"
    "postgres:link hub-db hub --no-restart"
    "letsencrypt:set hub email admin@example.edu"
    "git:from-archive hub --"
    "letsencrypt:enable hub"
  )
  for i in "${!rest[@]}"; do
    [ "${lines[$((i + 9))]}" = "${rest[$i]}" ] || { echo "line $((i + 9)): ${lines[$((i + 9))]}"; false; }
  done
  [ "${#lines[@]}" -eq 18 ] || { printf '%s\n' "${lines[@]}"; false; }
  # Dokku cleared the port map at the first domain; create mapped port 80 after it.
  [ "$(standin_state ports hub)" = "http:80:8000" ]

  # what the stand-in now holds
  standin_state app_exists hub
  [ "$(standin_state config_get hub HUB_IP)" = "hub.web" ]
  [ "$(standin_state config_get hub HUB_HOST_DATA_DIR)" = "$DATA" ]
  [ "$(standin_state config_get hub DOCKER_NETWORK_NAME)" = "hub-network" ]
  [[ "$(standin_state config_get hub DATABASE_URL)" == postgres://* ]]
  standin_state mounts hub | grep -qx "$DATA:/data"
  standin_state networks | grep -qx hub-network
  standin_state domains hub | grep -qx hub.example.edu
  standin_state letsencrypt hub | grep -qx "enabled=true"
  [ "$(standin_state deploys hub | wc -l)" -eq 1 ]
  for d in users user-settings shared colab groups; do [ -d "$DATA/$d" ]; done
  grep -q '"alice"' "$DATA/policy.json"
  # commands run as the dokku user: it owns the tree and the policy it must keep writing
  if id -u dokku >/dev/null 2>&1; then
    [ "$(stat -c %U "$DATA/policy.json")" = dokku ]
  fi
  # how to log in, never the password itself
  [[ "$out" == *"https://hub.example.edu/"* ]]
  [[ "$out" == *"dokku config:get hub HUB_ADMIN_PASSWORD"* ]]
  password="$(standin_state config_get hub HUB_ADMIN_PASSWORD)"
  [ "$PW_MIN" -ge 32 ]
  [ "${#password}" -ge "$PW_MIN" ]
  [[ "$out$err" != *"$password"* ]]
}


@test "a later plugin install cannot publish the hub on the host's interfaces" {
  # Dokku's network install trigger (every plugin:install and plugin:update) turns
  # bind-all-interfaces on for every app that has not set it; create set it off. A bare
  # `plugin:install` runs every plugin's install trigger, as root.
  run_split dokku plugin:install
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  standin_state network hub | grep -qx "bind-all-interfaces=false"
  # a hub whose property was turned on (made by an older plugin) is repaired by create
  printf true > "$STANDIN_LIB_ROOT/config/network/hub/bind-all-interfaces"
  run_split dokku jupyterhub:create hub
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  [[ "$out" == *"Keeping the hub off the host's own interfaces"* ]]
  standin_state network hub | grep -qx "bind-all-interfaces=false"
}

@test "a second create changes nothing and says so" {
  password="$(standin_state config_get hub HUB_ADMIN_PASSWORD)"
  standin_reset_calls
  run_split dokku jupyterhub:create hub --domain hub.example.edu --admin alice \
    --letsencrypt-email admin@example.edu
  [ "$status" -eq 0 ]
  [[ "$out" == *"-----> hub is already set up: nothing to do"* ]]
  run changes
  [ "$output" = "" ] || { echo "$output"; false; }
  [ "$(standin_state config_get hub HUB_ADMIN_PASSWORD)" = "$password" ]
}

@test "create replaces an admin password too short for the hub, without printing it" {
  short="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"  # an old clone's
  dokku config:set --no-restart hub "HUB_ADMIN_PASSWORD=$short" >/dev/null
  token="$(standin_state config_get hub HUB_PLUGIN_API_TOKEN)"
  run_split dokku jupyterhub:create hub
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  password="$(standin_state config_get hub HUB_ADMIN_PASSWORD)"
  [ "$password" != "$short" ]
  [ "${#password}" -ge "$PW_MIN" ]
  [ "$(standin_state config_get hub HUB_PLUGIN_API_TOKEN)" = "$token" ]
  [[ "$out" == *"too short"*"dokku config:get hub HUB_ADMIN_PASSWORD"* ]]
  [[ "$out$err" != *"$password"* && "$out$err" != *"$short"* ]]
  run dokku jupyterhub:create hub
  [[ "$output" == *"already set up"* ]]
}

@test "report in Dokku's format, single flag, JSON, and the report trigger" {
  run_split dokku jupyterhub:report hub
  [ "$status" -eq 0 ]
  [[ "$out" == "=====> hub jupyterhub information"* ]]
  [[ "$out" == *"       Jupyterhub admins count:        1"* ]]
  [[ "$out" == *"       Jupyterhub db kind:             postgres"* ]]
  [[ "$out" == *"       Jupyterhub admin password:      ********"* ]]
  run dokku jupyterhub:report hub --jupyterhub-data-root
  [ "$output" = "$DATA" ]
  run dokku jupyterhub:report hub --format json
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["letsencrypt"] == "active", d' "$output"
  run_split dokku jupyterhub:report hub --jupyterhub-nope
  [ "$status" -eq 1 ]
  [[ "$err" == " !     Invalid flag passed, valid flags: --jupyterhub-admin-password, "* ]]
  run dokku report hub
  [ "$status" -eq 0 ]
  [[ "$output" == *"=====> hub jupyterhub information"* ]]
}

@test "set changes config, policy and nginx; bad keys and values change nothing" {
  run dokku jupyterhub:set hub idle-timeout 900 --no-restart
  [ "$status" -eq 0 ]
  [ "$(standin_state config_get hub HUB_IDLE_TIMEOUT)" = 900 ]
  run dokku jupyterhub:set hub memory-limit 1g
  [ "$status" -eq 0 ]
  grep -q '"memory": "1g"' "$DATA/policy.json"
  run dokku jupyterhub:set hub max-body-size 100m
  [ "$status" -eq 0 ]
  standin_state nginx hub | grep -qx "client-max-body-size=100m"
  before="$(sha256sum "$DATA/policy.json")"
  standin_reset_calls
  run_split dokku jupyterhub:set hub colour blue
  [ "$status" -eq 1 ]
  [[ "$err" == " !     Invalid key 'colour', valid keys: notebook-image, memory-limit, "* ]]
  run_split dokku jupyterhub:set hub memory-limit lots
  [ "$status" -eq 1 ]
  run changes
  [ "$output" = "" ]
  [ "$(sha256sum "$DATA/policy.json")" = "$before" ]
}

@test "list shows the hub apps" {
  run dokku jupyterhub:list --format json
  [ "$status" -eq 0 ]
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert [a["app"] for a in r] == ["hub"] and r[0]["domain"] == "hub.example.edu", r' "$output"
}

@test "bad input is refused before any Dokku call" {
  standin_reset_calls
  for args in "lab --domain https://x --admin a" "Lab --admin a" "lab --admin ../x" \
    "lab --memory lots --admin a" "lab --memory 999g --admin a" "lab.x --admin a"; do
    # shellcheck disable=SC2086
    run_split dokku jupyterhub:create $args
    [ "$status" -ne 0 ]
    [[ "$err" == " !     "* ]]
    [ "$(echo "$err" | wc -l)" -eq 1 ]
  done
  # an empty value is refused like a bad one, never ignored
  for option in --memory --idle-timeout --max-body-size --notebook-image --letsencrypt-email; do
    run_split dokku jupyterhub:create lab --admin a "$option" ""
    [ "$status" -ne 0 ]
    [[ "$err" == " !     "* ]]
    [ "$(echo "$err" | wc -l)" -eq 1 ]
  done
  [ "$(standin_calls | grep -vc '"jupyterhub:create"')" -eq 0 ]
  [ ! -e "$STANDIN_LIB_ROOT/config/jupyterhub/lab" ]
  [ ! -e "$STANDIN_LIB_ROOT/data/storage/lab" ]
}

@test "an interrupted create is finished by running it again" {
  lab="$STANDIN_LIB_ROOT/data/storage/lab/data"
  run_split env STANDIN_FAIL=nginx:set dokku jupyterhub:create lab --domain lab.example.edu \
    --admin bob --no-postgres
  [ "$status" -ne 0 ]
  [[ "$err" == *"Allowing uploads up to 30m failed"*"run \`dokku jupyterhub:create lab\` again"* ]]
  mkdir -p "$lab/users/bob"
  echo '{}' >"$lab/users/bob/work.ipynb"
  run_split dokku jupyterhub:create lab --domain lab.example.edu --admin bob --no-postgres
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  [ "$(standin_state mounts lab | grep -c ":/data$")" -eq 1 ]
  [ "$(standin_state mounts lab | grep -c ":/run/dokku-gate$")" -eq 1 ]
  [ "$(standin_state mounts lab | grep -c docker.sock)" -eq 0 ]  # the gate holds it
  [ "$(standin_state domains lab | grep -c lab.example.edu)" -eq 1 ]
  standin_state nginx lab | grep -qx "client-max-body-size=30m"
  [ "$(cat "$lab/users/bob/work.ipynb")" = "{}" ]
  [ "$(standin_state deploys lab | wc -l)" -eq 1 ]
  run dokku jupyterhub:create lab
  [[ "$output" == *"already set up"* ]]
}

@test "an apps:rename that Dokku fails midway leaves the old hub and its data as they were" {
  run_split dokku jupyterhub:create rf --admin erin --no-postgres --no-deploy
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  old="$STANDIN_LIB_ROOT/data/storage/rf/data"
  mkdir -p "$old/users/erin"
  echo '{}' >"$old/users/erin/work.ipynb"
  if id -u dokku >/dev/null 2>&1; then  # so the dokku user can purge it at the end
    chown -R dokku:dokku "$old/users/erin"
  fi
  mounts="$(standin_state mounts rf)"
  run_split env STANDIN_FAIL=storage:mount dokku apps:rename rf rf2
  [ "$status" -ne 0 ]
  [[ "$err" == *"Nothing was moved"*"still in $STANDIN_LIB_ROOT/data/storage/rf"* ]]
  [[ "$err" == *"dokku apps:destroy rf2 --force && dokku apps:rename rf rf2"* ]]
  [ "$(cat "$old/users/erin/work.ipynb")" = "{}" ]
  [ ! -e "$STANDIN_LIB_ROOT/data/storage/rf2" ]
  [ "$(standin_state mounts rf)" = "$mounts" ]
  standin_state network rf | grep -qx "attach-post-create=rf-network"
  [ -f "$STANDIN_LIB_ROOT/config/jupyterhub/rf/hub-app" ]
  # what the message says to run works
  run_split dokku apps:destroy rf2 --force
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  run_split dokku apps:rename rf rf2
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  new="$STANDIN_LIB_ROOT/data/storage/rf2/data"
  [ "$(cat "$new/users/erin/work.ipynb")" = "{}" ]
  [ "$(standin_state mounts rf2 | grep ":/data$")" = "$new:/data" ]
  run_split dokku jupyterhub:destroy rf2 --force --purge-data
  [ "$status" -eq 0 ] || { echo "$err"; false; }
}

@test "apps:rename moves the hub's settings, users' data, mount and network" {
  run_split dokku jupyterhub:create rn --domain rn.example.edu --admin carol --no-postgres
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  mkdir -p "$STANDIN_LIB_ROOT/data/storage/rn/data/users/carol"
  echo '{}' >"$STANDIN_LIB_ROOT/data/storage/rn/data/users/carol/work.ipynb"
  # Owned by dokku here; on a server the hub gives users' folders to uid 1000 and
  # --purge-data then goes through Dokku's sudo storage helper (teardown.purge).
  if id -u dokku >/dev/null 2>&1; then
    chown -R dokku:dokku "$STANDIN_LIB_ROOT/data/storage/rn/data/users/carol"
  fi
  run_split dokku apps:rename rn rn2
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  new="$STANDIN_LIB_ROOT/data/storage/rn2/data"
  [ "$(cat "$new/users/carol/work.ipynb")" = "{}" ]
  [ ! -e "$STANDIN_LIB_ROOT/data/storage/rn" ]
  [ "$(standin_state mounts rn2 | grep ":/data$")" = "$new:/data" ]
  [ "$(standin_state config_get rn2 HUB_HOST_DATA_DIR)" = "$new" ]
  [ "$(standin_state config_get rn2 HUB_APP_NAME)" = rn2 ]
  [ "$(standin_state config_get rn2 HUB_IP)" = rn2.web ]
  standin_state network rn2 | grep -qx "attach-post-create=rn2-network"
  standin_state networks | grep -qx rn2-network
  [ -f "$STANDIN_LIB_ROOT/config/jupyterhub/rn2/hub-app" ]
  [ ! -e "$STANDIN_LIB_ROOT/config/jupyterhub/rn" ]
  # Dokku's checks plugin does not carry zero-downtime off over a rename: the rename did.
  [ "$(dokku checks:report rn2 --checks-disabled-list)" = web ]
  run dokku jupyterhub:create rn2
  [[ "$output" == *"rn2 is already set up"* ]] || { echo "$output"; false; }
}

@test "networks the admin attached stay through create, rename and clone" {
  run_split dokku jupyterhub:create nets --admin carol --no-postgres --no-deploy
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  dokku network:create othernet >/dev/null
  dokku network:set nets attach-post-create nets-network othernet >/dev/null
  run_split dokku jupyterhub:create nets --admin carol
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  standin_state network nets | grep -qx "attach-post-create=nets-network,othernet"
  run_split dokku apps:rename nets nets2
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  standin_state network nets2 | grep -qx "attach-post-create=othernet,nets2-network"
  run_split dokku apps:clone nets2 nets3
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  standin_state network nets3 | grep -qx "attach-post-create=othernet,nets3-network"
  standin_state network nets2 | grep -qx "attach-post-create=othernet,nets2-network"
}

@test "apps:clone makes a separate hub: own data, secrets and network" {
  run_split dokku apps:clone rn2 cl
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  own="$STANDIN_LIB_ROOT/data/storage/cl/data"
  [ "$(standin_state mounts cl | grep ":/data$")" = "$own:/data" ]
  [ "$(standin_state config_get cl HUB_HOST_DATA_DIR)" = "$own" ]
  standin_state network cl | grep -qx "attach-post-create=cl-network"
  [ "$(standin_state config_get cl HUB_ADMIN_PASSWORD)" != "$(standin_state config_get rn2 HUB_ADMIN_PASSWORD)" ]
  password="$(standin_state config_get cl HUB_ADMIN_PASSWORD)"
  [ "${#password}" -ge "$PW_MIN" ]  # the clone's hub starts
  [ -z "$(ls -A "$own/users")" ]
  grep -q '"carol"' "$own/policy.json"
  # the original is untouched
  [ "$(standin_state mounts rn2 | grep ":/data$")" = "$STANDIN_LIB_ROOT/data/storage/rn2/data:/data" ]
  [ -f "$STANDIN_LIB_ROOT/data/storage/rn2/data/users/carol/work.ipynb" ]
  run_split dokku jupyterhub:destroy cl --force --purge-data
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  run_split dokku jupyterhub:destroy rn2 --force --purge-data
  [ "$status" -eq 0 ] || { echo "$err"; false; }
}

@test "a plain apps:destroy of a hub app releases its network and keeps the data" {
  run_split dokku jupyterhub:create plain --admin dana --no-postgres --no-deploy
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  standin_state networks | grep -qx plain-network
  run_split dokku apps:destroy plain --force
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  run standin_state networks
  [[ "$output" != *plain-network* ]]
  [ ! -e "$STANDIN_LIB_ROOT/config/jupyterhub/plain" ]
  [ -f "$STANDIN_LIB_ROOT/data/storage/plain/data/policy.json" ]
}

@test "destroy keeps the users' data and the database unless told" {
  run_split dokku jupyterhub:destroy lab --force
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  [[ "$out" == *"Users' data kept in $STANDIN_LIB_ROOT/data/storage/lab"* ]]
  run standin_state app_exists lab
  [ "$status" -ne 0 ]
  run standin_state networks
  [[ "$output" != *lab-network* ]]
  [ ! -e "$STANDIN_LIB_ROOT/config/jupyterhub/lab" ]
  [ "$(cat "$STANDIN_LIB_ROOT/data/storage/lab/data/users/bob/work.ipynb")" = "{}" ]

  run_split dokku --force jupyterhub:destroy hub --purge-data
  [ "$status" -eq 0 ] || { echo "$err"; false; }
  [ ! -e "$STANDIN_LIB_ROOT/data/storage/hub" ]
  standin_state postgres_services | grep -qx hub-db
  [[ "$out" == *"dokku postgres:destroy hub-db"* ]]
}
