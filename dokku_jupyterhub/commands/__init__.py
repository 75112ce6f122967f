"""One module per capability; each exposes `COMMANDS`, a list of click commands whose
names are the text after `jupyterhub:` (e.g. `admins:add`)."""
