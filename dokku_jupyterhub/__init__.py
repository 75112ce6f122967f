"""dokku-jupyterhub: run a multi-user JupyterHub on a Dokku host."""

PLUGIN_NAME = "jupyterhub"
__version__ = "0.1.0"
