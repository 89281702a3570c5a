import json
import pathlib

EXPECTED = ["click", "pydantic", "requests", "rich", "typing-extensions", "tzdata"]


def test_deps_json_is_the_sorted_runtime_names():
    data = json.loads(pathlib.Path("deps.json").read_text(encoding="utf-8"))
    assert data == EXPECTED
