"""What the server stores of a task's inputs: hyperparameters, user properties and
configuration objects. The API refuses a body past these limits; the SDK fits what a run
sends to them first (``tunelab.sdk.input_fitting``), so one odd name never costs the other
entries sent with it."""

from __future__ import annotations

SECTION_NAME = 256  # characters of a hyperparameter section's name
ENTRY_NAME = 512  # of a parameter's, a user property's or a configuration object's name
TYPE_NAME = 64  # of a value's type name ("float", "dictionary")
PARAMETER_VALUE = 1024 * 1024  # of a parameter's text: long texts are configuration objects
SHORT_TEXT = 64 * 1024  # of a description
LONG_TEXT = 32 * 1024 * 1024  # of a configuration object's text
SECTIONS = 1_000  # hyperparameter sections in one body
ENTRIES = 10_000  # parameters in one section, or user properties
CONFIGURATIONS = 1_000  # configuration objects in one body
