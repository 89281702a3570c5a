"""Small text helpers for the blog engine."""


def word_count(text):
    """Number of whitespace-separated words in `text`."""
    return len(text.split())


def slugify(title):
    """A URL slug for `title`, e.g. "Hello, World!" -> "hello-world"."""
    raise NotImplementedError
