"""Hooks into other libraries (TensorBoard writers…), each imported only when its library is.

Nothing here is imported by ``import tunelab``: ``Task.init`` starts an integration, which
waits for its library with ``tunelab.sdk.capture.import_hooks.when_imported``.
"""
