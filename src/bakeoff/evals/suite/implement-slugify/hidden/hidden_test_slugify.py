import pytest
from text_tools import slugify, word_count


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("Crème Brûlée  Recipe", "creme-brulee-recipe"),
        ("  --Already-Slugged--  ", "already-slugged"),
        ("Python 3.12 is out", "python-3-12-is-out"),
        ("Über café", "uber-cafe"),
        ("C'est la vie", "c-est-la-vie"),
        ("snake_case_name", "snake-case-name"),
        ("日本語 title", "title"),
        ("MiXeD CaSe", "mixed-case"),
    ],
)
def test_slugify(title, slug):
    assert slugify(title) == slug


@pytest.mark.parametrize("title", ["", "   ", "!!!", "日本語"])
def test_empty_slug_becomes_untitled(title):
    assert slugify(title) == "untitled"


def test_word_count_still_works():
    assert word_count("one two  three") == 3
