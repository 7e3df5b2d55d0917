"""errors: the one exception class meant for users.

The CLI catches ``SrcdiffError`` once and prints it as a single line; anything
else is a bug and may show a traceback.
"""


class SrcdiffError(Exception):
    """A problem with the user's input (repository, struct, tag, file, config).

    ``exit_code`` is what the CLI exits with (2 for usage/input errors).
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
