"""Code that runs inside the hub container as well as in the plugin.

Standard library only: the generated hub app ships a copy of this package next to
`jupyterhub_config.py`, so the rules for names, policy, mounts and limits have one source.
"""
