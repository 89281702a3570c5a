"""Evaluate arithmetic expressions such as "2 * (3 + 4) ** 2" without eval()."""


def evaluate(expression):
    """The value of `expression` as a float; see the task for the grammar."""
    raise NotImplementedError
