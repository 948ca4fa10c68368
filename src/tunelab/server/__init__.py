"""The Tunelab server: JSON API under /api/v1 (and, later, web pages) over the store."""
