"""Split a list of items into numbered pages."""


def paginate(items, page, per_page):
    """The items on page `page` (pages are numbered from 1), `per_page` items per page.

    A page past the end is empty; page numbers below 1 raise ValueError.
    """
    if page < 1:
        raise ValueError("pages are numbered from 1")
    start = page * per_page
    return items[start : start + per_page]


def page_count(total, per_page):
    """How many pages `total` items fill, `per_page` items per page (the last may be partial)."""
    return total // per_page
