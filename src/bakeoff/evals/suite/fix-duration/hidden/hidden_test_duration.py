import pytest
from duration import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45s", 45),
        ("90s", 90),
        ("120m", 7200),
        ("1h30m", 5400),
        ("2h", 7200),
        ("1h1m1s", 3661),
        ("10h59m59s", 39599),
        (" 10m ", 600),
        ("0s", 0),
    ],
)
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "   ", "abc", "5x", "5m junk", "junk 5m", "30m1h", "1h1h", "1s2m", "h", "-5s"]
)
def test_parse_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (45, "45s"),
        (60, "1m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (3601, "1h1s"),
        (3661, "1h1m1s"),
        (0, "0s"),
    ],
)
def test_format(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0, 1, 59, 60, 61, 3599, 3600, 86399, 90061])
def test_round_trip(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_rejects_negative():
    with pytest.raises(ValueError):
        format_duration(-1)
