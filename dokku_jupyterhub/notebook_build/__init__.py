"""The students' notebook image, built from the hub app's `images/` folder.

`pipeline.ensure_notebook_image` is the one code path behind the `post-deploy` trigger and
`jupyterhub:rebuild-image`; read it top to bottom. The other modules each hold one concern:
`context` (the folder, byte for byte, out of the deployed image), `fingerprint` (what the
folder and build arguments hash to), `plan` (build or not: pure), `engine` (docker-py build,
retag, prune), `lock` (one build per app), `records` (the `last-build-*` properties).
"""
