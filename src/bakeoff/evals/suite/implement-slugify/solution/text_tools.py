"""Small text helpers for the blog engine."""

import re
import unicodedata


def word_count(text):
    """Number of whitespace-separated words in `text`."""
    return len(text.split())


def slugify(title):
    """A URL slug for `title`, e.g. "Hello, World!" -> "hello-world"."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug or "untitled"
