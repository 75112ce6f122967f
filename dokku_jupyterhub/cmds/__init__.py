"""One module per capability; each exposes `COMMANDS`, a list of click commands whose
names are the text after `jupyterhub:` (e.g. `admins:add`).

Not named `commands`: Dokku's `help` runs every path of that name under the plugin
(`find -L plugins/enabled -name commands`), directories included."""
