"""Errors that name the problem and the fix; the CLI prints them without a traceback."""


class PipelineError(Exception):
    """Base class: a problem the user can fix (bad config, missing data, bad file)."""


class ConfigError(PipelineError):
    """A config value is wrong; the message starts with the key."""


class DataError(PipelineError):
    """Input data is missing or corrupt; the message names the file."""
