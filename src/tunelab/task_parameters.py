"""Typed parameter sets, as ClearML's ``clearml.task_parameters`` spells them.

Example::

    from tunelab.task_parameters import TaskParameters, param, percent_param

    class Params(TaskParameters):
        iterations = param(type=int, desc="Number of iterations", range=(0, 100000), default=500)
        target_accuracy = percent_param(desc="The target accuracy", default=0.9)

    params = task.connect(Params(), name="Params")
"""

from tunelab.sdk.task_parameters import TaskParameters, param, percent_param

__all__ = ["TaskParameters", "param", "percent_param"]
