"""Errors that name the problem and the fix; the CLI prints them without a traceback."""


class PipelineError(Exception):
    """Base class: a problem the user can fix (bad config, missing data, bad file)."""


class ConfigError(PipelineError):
    """A config value is wrong; the message starts with the key."""


class DataError(PipelineError):
    """Input data is missing or corrupt; the message names the file."""


def load_failure(e: BaseException) -> str:
    """Why torch.load failed, in one line (torch's own messages run over many lines, and
    for weights_only refusals suggest the unsafe way out)."""
    text = str(e)
    if "Weights only load failed" in text:
        return "it holds objects other than tensors, refused since unpickling them could run code"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(e).__name__)
    # torch's zip errors go on for sentences of advice: the first says what is wrong, and
    # the message keeps whole words, so the fix that follows it is read as one.
    first = first.split(". ", 1)[0].rstrip(".")
    if len(first) > 200:
        first = first[:200].rsplit(" ", 1)[0] + " ..."
    return first
