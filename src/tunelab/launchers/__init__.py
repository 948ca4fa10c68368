"""Launchers: serve a queue by submitting its tasks as jobs to a scheduler (Slurm today).

Each job runs ``tunelab agent execute --id TASK`` with the task's own key: see
``launchers.base`` for the loop every back end shares and ``launchers.slurm`` for Slurm.
"""

from tunelab.launchers.base import Backend, JobRequest, JobState, Launcher, LaunchError

__all__ = ["Backend", "JobRequest", "JobState", "LaunchError", "Launcher"]
