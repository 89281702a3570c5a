"""Finding JSON objects in model output, the one scan behind judge verdicts and tool calls
written as text: objects anywhere in prose, whole (never their nested parts on their own), raw
newlines in strings accepted, broken JSON skipped, and spans already taken left alone."""

from __future__ import annotations

from bakeoff.models.json_scan import scan_json_objects


def test_objects_are_found_whole_wherever_they_sit() -> None:
    text = 'Sure. {"name": "read_file", "arguments": {"path": "a.py"}} then {"b": 2}'
    found = list(scan_json_objects(text))
    assert [value for _, _, value in found] == [
        {"name": "read_file", "arguments": {"path": "a.py"}},
        {"b": 2},
    ]
    start, end, _ = found[0]
    assert text[start:end] == '{"name": "read_file", "arguments": {"path": "a.py"}}'


def test_raw_newlines_in_strings_are_read_and_broken_json_is_skipped() -> None:
    text = '{"oops": } {"note": "line one\nline two"} {not json}'
    assert [v for _, _, v in scan_json_objects(text)] == [{"note": "line one\nline two"}]


def test_skipped_spans_are_not_looked_at() -> None:
    text = '<tool_call>{"a": 1}</tool_call> {"b": 2}'
    taken = [(0, text.index("</tool_call>") + len("</tool_call>"))]
    assert [v for _, _, v in scan_json_objects(text, skip=taken)] == [{"b": 2}]


def test_no_objects_in_plain_text_or_arrays() -> None:
    assert list(scan_json_objects("VERDICT: 10/10 [1, 2]")) == []
