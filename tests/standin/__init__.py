"""The Dokku stand-in (see README.md): a fake Dokku host for tests."""
