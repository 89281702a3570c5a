import hashlib
import pathlib

import pytest
from pagination import page_count, paginate

ITEMS = list(range(1, 26))


def test_visible_tests_untouched():
    digest = hashlib.sha256(pathlib.Path("test_pagination.py").read_bytes()).hexdigest()
    assert digest == "e04c1ad6b1307853a216dba4de414a2c2c7735937aaaf1345f3fe50862ec4818"


@pytest.mark.parametrize(
    ("page", "expected"),
    [(1, list(range(1, 11))), (2, list(range(11, 21))), (3, [21, 22, 23, 24, 25]), (4, [])],
)
def test_pages(page, expected):
    assert paginate(ITEMS, page, 10) == expected


def test_one_item_per_page():
    assert paginate(["a", "b", "c"], 2, 1) == ["b"]


def test_bad_page_raises():
    with pytest.raises(ValueError):
        paginate(ITEMS, 0, 10)
    with pytest.raises(ValueError):
        paginate(ITEMS, -1, 10)


@pytest.mark.parametrize(
    ("total", "per_page", "expected"),
    [(0, 10, 0), (1, 10, 1), (10, 10, 1), (11, 10, 2), (25, 10, 3), (7, 1, 7)],
)
def test_page_count(total, per_page, expected):
    assert page_count(total, per_page) == expected
