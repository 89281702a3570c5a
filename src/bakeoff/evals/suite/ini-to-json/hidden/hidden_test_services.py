import json
import pathlib

EXPECTED = {
    "auth": {"host": "auth.internal", "port": 9001, "enabled": True},
    "billing": {"host": "billing.internal", "port": 9002, "enabled": False},
    "search": {"host": "search.internal", "port": 9200, "enabled": True},
    "legacy-reports": {"host": "10.0.4.17", "port": 8081, "enabled": False},
}


def load():
    return json.loads(pathlib.Path("services.json").read_text(encoding="utf-8"))


def test_every_section_and_nothing_else():
    assert sorted(load()) == sorted(EXPECTED)


def test_values_and_types():
    data = load()
    for name, expected in EXPECTED.items():
        got = data[name]
        assert got == expected, name
        assert type(got["port"]) is int, name
        assert type(got["enabled"]) is bool, name
