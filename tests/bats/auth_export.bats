#!/usr/bin/env bats
# auth:set and export through `dokku jupyterhub:*` with the plugin installed in the Dokku
# stand-in: secrets reach `dokku config` and nothing else; bad input changes nothing; export
# writes the deployed source as the dokku user.

load helpers

SECRET='Zq8~x.SECRET-from-stdin~7'

setup_file() {
  standin_setup_file
  standin_install_plugin
  export STANDIN_DEPLOY_HOOK="$STANDIN_ROOT/deploy-hook"
  printf '#!/bin/sh\nexit 0\n' >"$STANDIN_DEPLOY_HOOK"
  chmod 0755 "$STANDIN_DEPLOY_HOOK"
  dokku jupyterhub:create hub --domain hub.example.edu --admin alice --no-postgres >/dev/null
}

teardown_file() {
  standin_teardown_file
}

@test "auth:set azuread stores the options with dokku config and never prints the secret" {
  standin_reset_calls
  run_split bash -c "printf '%s\n' '$SECRET' | dokku jupyterhub:auth:set hub azuread \
    --client-id client-1 --client-secret - --tenant-id contoso.onmicrosoft.com"
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  [[ "$out$err" != *"$SECRET"* ]]
  [[ "$out" == *"HUB_OAUTH_CLIENT_SECRET: ********"* ]]
  [ "$(dokku config:get hub HUB_OAUTH_CLIENT_SECRET)" = "$SECRET" ]
  [ "$(dokku config:get hub HUB_AUTH_PROVIDER)" = "azuread" ]
  # no TLS on this hub: the callback is what it serves, with a warning saying how to fix it
  [ "$(dokku config:get hub HUB_OAUTH_CALLBACK_URL)" = "http://hub.example.edu/hub/oauth_callback" ]
  [[ "$err" == *"served over plain http"* ]]
  [ "$(cat "$STANDIN_LIB_ROOT/config/jupyterhub/hub/auth-provider")" = "azuread" ]
  run standin_calls ps:restart
  [ "${#lines[@]}" -eq 1 ]
}

@test "auth:set none returns to the closed default and drops the provider's secret" {
  run_split dokku jupyterhub:auth:set hub none --no-restart
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  [ "$(dokku config:get hub HUB_AUTH_PROVIDER)" = "none" ]
  run dokku config:get hub HUB_OAUTH_CLIENT_SECRET
  [ -z "$output" ]
  # The admin password create generated stays: it is the closed default's login.
  [ -n "$(dokku config:get hub HUB_ADMIN_PASSWORD)" ]
}

@test "auth:set bad input: one line, non-zero, nothing changed" {
  standin_reset_calls
  for argv in "hub okta" "hub github --client-id c" "nope none" \
    "hub github --client-id c --client-secret s --tenant-id t"; do
    # shellcheck disable=SC2086
    run_split dokku jupyterhub:auth:set $argv
    [ "$status" -ne 0 ] || { echo "accepted: $argv"; false; }
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]
    [[ "$err" == " !     "* ]]
  done
  run standin_calls config:set
  [ -z "$output" ]
  [ "$(dokku config:get hub HUB_AUTH_PROVIDER)" = "none" ]
}

@test "export writes the hub source as the dokku user and as a tar on stdout" {
  dest="$STANDIN_ROOT/export"
  mkdir -m 0777 "$dest"
  run_split dokku jupyterhub:export hub "$dest/src"
  [ "$status" -eq 0 ] || { echo "$out $err"; false; }
  [ -f "$dest/src/Dockerfile" ] && [ -f "$dest/src/images/Dockerfile" ]
  [ -f "$dest/src/dokku_hub/spawn.py" ]
  run_split dokku jupyterhub:export hub "$dest/src"
  [ "$status" -eq 1 ] && [[ "$err" == *"is not empty"* ]]
  dokku jupyterhub:export hub >"$dest/a.tar"
  dokku jupyterhub:export hub - >"$dest/b.tar"
  cmp "$dest/a.tar" "$dest/b.tar"
  [ "$(tar -tf "$dest/a.tar" | cut -d/ -f1 | sort -u)" = "hub" ]
  tar -xf "$dest/a.tar" -C "$dest"
  diff -r "$dest/hub" "$dest/src"
}

@test "export never writes through a symlink, nor into Dokku's home" {
  dest="$STANDIN_ROOT/export-links"
  mkdir -m 0777 "$dest" "$dest/elsewhere" "$dest/src"
  chmod 0777 "$dest/elsewhere" "$dest/src"
  ln -s "$dest/elsewhere" "$dest/src/images"
  run_split dokku jupyterhub:export hub "$dest/src" --force
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]
  [[ "$err" == " !     $dest/src/images is a symbolic link: export never writes through one" ]]
  [ -z "$(ls -A "$dest/elsewhere")" ]
  run_split dokku jupyterhub:export hub "$STANDIN_DOKKU_ROOT/hub-src"
  [ "$status" -eq 1 ]
  [[ "$err" == *"where Dokku takes every folder for an app"* ]]
  [ ! -e "$STANDIN_DOKKU_ROOT/hub-src" ]
}
