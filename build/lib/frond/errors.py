"""The one exception type that carries a message meant for a person."""


class FrondInputError(ValueError):
    """Bad input: the message says what was wrong and what to do.

    The CLI prints it on one line and exits with status 2; the app shows it as a
    `gr.Error`. Anything else escaping the pipeline is a bug.
    """
