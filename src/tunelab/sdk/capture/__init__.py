"""What the SDK records on its own when a task starts: source, packages, arguments, environment.

Each capture is a plain function the ``Task`` calls; none raises on the user's script's behalf.
"""

from tunelab.sdk.capture.arguments import (
    apply_argparse_overrides,
    apply_click_overrides,
    argparse_parameters,
    click_parameters,
    current_click_parameters,
    hook_argparse,
    hook_click,
    last_argparse,
    unhook_argparse,
    unhook_click,
)
from tunelab.sdk.capture.environment import capture_environment, environment_patterns
from tunelab.sdk.capture.git import SourceInfo, capture_source
from tunelab.sdk.capture.packages import capture_requirements
from tunelab.sdk.capture.runtime import capture_runtime

__all__ = [
    "SourceInfo",
    "apply_argparse_overrides",
    "apply_click_overrides",
    "argparse_parameters",
    "capture_environment",
    "capture_requirements",
    "capture_runtime",
    "capture_source",
    "click_parameters",
    "current_click_parameters",
    "environment_patterns",
    "hook_argparse",
    "hook_click",
    "last_argparse",
    "unhook_argparse",
    "unhook_click",
]
