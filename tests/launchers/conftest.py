"""The launchers' tests share the session's real Slurm cluster (tests/slurm.py)."""

from tests.slurm import slurm  # noqa: F401
