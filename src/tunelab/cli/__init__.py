"""The ``tunelab`` command line: thin commands over the SDK and the store."""
