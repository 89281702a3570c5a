import pytest
from duration import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("90s", 90), ("1h30m", 5400), ("2h", 7200), ("1h1m1s", 3661), (" 10m ", 600)],
)
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "5m junk", "30m1h", "1h1h"])
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(45, "45s"), (5400, "1h30m"), (3661, "1h1m1s"), (0, "0s")]
)
def test_format(seconds, text):
    assert format_duration(seconds) == text


def test_format_rejects_negative():
    with pytest.raises(ValueError):
        format_duration(-1)
