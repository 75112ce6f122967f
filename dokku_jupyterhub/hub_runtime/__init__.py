"""Code that runs inside the hub container as well as in the plugin.

The generated hub app ships a copy of this package as `dokku_hub/` next to
`jupyterhub_config.py`, so the rules for names, policy, mounts and limits have one source.
Standard library only, except `auth.py`, which extends JupyterHub's and OAuthenticator's
classes and is imported inside the hub alone (never by the plugin).
"""
