"""The one error type users see: a single line naming the bad value and what was expected."""


class QuantFairnessError(ValueError):
    """Bad input (config, language, model, strategy, corpus). The message is one line."""


def first_line(error):
    """The first line of another library's error, or its type's name if it has no message:
    what a one-line QuantFairnessError quotes of it."""
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__
