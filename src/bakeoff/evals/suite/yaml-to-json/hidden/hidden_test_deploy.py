import json
import pathlib

EXPECTED = {
    "web": {"image": "shop/web:1.4.2", "replicas": 4, "region": "eu-west-1", "ports": [80, 443]},
    "worker": {"image": "shop/worker:1.4.2", "replicas": 2, "region": "eu-west-1", "ports": []},
    "cache": {"image": "redis:7.2", "replicas": 1, "region": "eu-central-1", "ports": [6379]},
}


def load():
    return json.loads(pathlib.Path("services.json").read_text(encoding="utf-8"))


def test_exactly_the_deployed_services():
    assert sorted(load()) == sorted(EXPECTED)


def test_defaults_are_merged_and_overridden():
    data = load()
    assert data["web"]["replicas"] == 4
    assert data["worker"]["replicas"] == 2
    assert data["worker"]["region"] == "eu-west-1"


def test_every_service_matches():
    data = load()
    for name, expected in EXPECTED.items():
        assert data[name] == expected, name
        assert all(type(port) is int for port in data[name]["ports"]), name
