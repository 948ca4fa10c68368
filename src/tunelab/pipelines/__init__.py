"""Pipelines of tasks through queues, with typed references and a step cache.

``from tunelab.pipelines import PipelineController``; see ``controller`` for an example.
"""

from tunelab.pipelines.controller import PipelineController
from tunelab.pipelines.decorator import PipelineDecorator

__all__ = ["PipelineController", "PipelineDecorator"]
