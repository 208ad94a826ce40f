"""The one error type users see: a single line naming the bad value and what was expected."""


class QuantFairnessError(ValueError):
    """Bad input (config, language, model, strategy, corpus). The message is one line."""
