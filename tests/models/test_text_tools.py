"""Tool calls written as text by small local models become real calls only when they name an
offered tool with schema-valid arguments; everything else stays text."""

from __future__ import annotations

import json

from bakeoff.models.text_tools import extract_text_tool_calls
from bakeoff.types import ToolSpec

TOOLS = [
    ToolSpec(
        name="read_file",
        description="Read a file.",
        parameters={
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
            "additionalProperties": False,
        },
    ),
    ToolSpec(
        name="write_file",
        description="Write a file.",
        parameters={
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    ),
    ToolSpec(
        name="list_directory",
        description="List a directory.",
        parameters={"type": "object", "properties": {"path": {"type": "string"}}},
    ),
]


def test_fenced_json_block_becomes_a_call_and_prose_remains() -> None:
    text = (
        "I will look at the file first.\n\n"
        '```json\n{"name": "read_file", "arguments": {"path": "calc.py"}}\n```\n'
    )
    rest, calls = extract_text_tool_calls(text, TOOLS)
    assert rest == "I will look at the file first."
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_text_0", "read_file", {"path": "calc.py"})
    ]
    assert calls[0].malformed is None


def test_bare_object_in_prose() -> None:
    text = (
        'Sure. {"name": "write_file", "arguments": {"path": "a.py", "content": "x = 1\\n"}} Done.'
    )
    rest, calls = extract_text_tool_calls(text, TOOLS)
    assert rest == "Sure.  Done."
    assert calls[0].name == "write_file"
    assert calls[0].arguments == {"path": "a.py", "content": "x = 1\n"}


def test_several_tagged_calls_in_order_with_prefixed_ids() -> None:
    text = (
        '<tool_call>\n{"name": "list_directory", "arguments": {}}\n</tool_call>\n'
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "b.py"}}\n</tool_call>'
    )
    rest, calls = extract_text_tool_calls(text, TOOLS, id_prefix="t_")
    assert rest == ""
    assert [(c.id, c.name) for c in calls] == [("t_0", "list_directory"), ("t_1", "read_file")]


def test_unclosed_tag_at_end_of_answer_still_counts() -> None:
    # The model hit its stop token before writing </tool_call>.
    rest, calls = extract_text_tool_calls(
        '<tool_call>{"name": "read_file", "arguments": {"path": "c.py"}}', TOOLS
    )
    assert (rest, [c.arguments for c in calls]) == ("", [{"path": "c.py"}])


def test_list_in_a_fence_and_double_encoded_arguments() -> None:
    text = (
        "```\n["
        '{"name": "read_file", "arguments": "{\\"path\\": \\"x.py\\"}"}, '
        '{"type": "function", "function": {"name": "read_file", "parameters": {"path": "y.py"}}}'
        "]\n```"
    )
    rest, calls = extract_text_tool_calls(text, TOOLS)
    assert rest == ""
    assert [c.arguments["path"] for c in calls] == ["x.py", "y.py"]


def test_double_encoded_file_content_with_raw_newlines_is_recovered() -> None:
    # Qwen2.5-Coder-1.5B's write_file calls: arguments as a JSON string whose file content
    # holds raw newlines (not strict JSON); 4 of 10 were lost before.
    code = "def add(a, b):\n    return a + b\n"
    arguments = '{"path": "add.py", "content": "' + code + '"}'  # raw newlines inside
    bare = '{"name": "write_file", "arguments": ' + json.dumps(arguments) + "}"
    tagged = "<tool_call>\n" + bare.replace("\\n", "\n") + "\n</tool_call>"  # raw at both levels
    for text in (bare, tagged):
        rest, calls = extract_text_tool_calls(text, TOOLS)
        assert rest == ""
        assert [(c.name, c.arguments) for c in calls] == [
            ("write_file", {"path": "add.py", "content": code})
        ]


def test_exact_call_shape_to_an_unknown_tool_is_a_call_the_agent_can_refuse() -> None:
    # {"name", "arguments"} and nothing else is meant as a call: the agent answers "unknown
    # tool", so the model can correct itself instead of the run ending on it.
    text = '```json\n{"name": "create_file", "arguments": {"path": "a"}}\n```'
    rest, calls = extract_text_tool_calls(text, TOOLS)
    assert rest == "" and [(c.name, c.arguments) for c in calls] == [("create_file", {"path": "a"})]


def test_looser_shapes_to_unknown_tools_stay_text() -> None:
    for text in (
        '{"name": "delete_everything", "parameters": {}}',
        '{"name": "delete_everything", "arguments": {}, "id": 7}',
    ):
        assert extract_text_tool_calls(text, TOOLS) == (text, [])


def test_schema_invalid_arguments_stay_text_unless_the_shape_is_exact() -> None:
    for text in (
        '{"name": "write_file", "parameters": {"path": "a.py"}}',
        '{"name": "read_file", "arguments": {"path": 3}, "note": "x"}',
    ):
        assert extract_text_tool_calls(text, TOOLS) == (text, [])
    _, calls = extract_text_tool_calls(
        '{"name": "write_file", "arguments": {"path": "a.py"}}', TOOLS
    )
    assert [c.arguments for c in calls] == [{"path": "a.py"}]  # the tool will say what is missing


def test_a_block_with_one_bad_call_is_left_whole() -> None:
    text = (
        "```json\n"
        '{"name": "read_file", "arguments": {"path": "a.py"}}\n'
        '{"name": "read_file", "parameters": {"nope": 1}}\n```'
    )
    assert extract_text_tool_calls(text, TOOLS) == (text, [])


def test_json_that_merely_contains_a_call_shape_is_not_a_call() -> None:
    # The outer object is data; its nested {"name": ...} must not be executed.
    text = 'Config: {"example": {"name": "read_file", "arguments": {"path": "secret"}}}'
    assert extract_text_tool_calls(text, TOOLS) == (text, [])


def test_code_fence_with_a_dict_literal_is_untouched() -> None:
    text = '```python\nspec = {"name": "read_file", "arguments": {"path": "a"}}\n```'
    assert extract_text_tool_calls(text, TOOLS) == (text, [])


def test_nothing_offered_means_no_calls() -> None:
    text = '{"name": "read_file", "arguments": {"path": "a.py"}}'
    assert extract_text_tool_calls(text, []) == (text, [])


def test_plain_prose_and_broken_json_pass_through() -> None:
    text = 'Use {braces} freely, even {"name": "read_file", "arguments": {"path": '
    assert extract_text_tool_calls(text, TOOLS) == (text, [])


def test_function_markup_in_tools_tags_is_a_call() -> None:
    """What Qwen2.5-Coder 1.5B answered to "Create a file hello.py" (seen 2026-11-29)."""
    from bakeoff.models.text_tools import only_function_markup
    from bakeoff.tools import READ_TOOLS, WRITE_TOOLS

    text = (
        '<tools>\n  <function name="write_file" arguments=\'{"path": "hello.py", '
        '"content": "print(\\"Hello, world!\\")"}\'/>\n</tools>'
    )
    rest, calls = extract_text_tool_calls(text, READ_TOOLS + WRITE_TOOLS)
    assert rest == ""
    assert [(c.name, c.arguments) for c in calls] == [
        ("write_file", {"path": "hello.py", "content": 'print("Hello, world!")'})
    ]
    assert only_function_markup(text) == ["write_file"]
    # An unknown tool is still a call (the agent answers it with an error the model can read),
    # and prose around markup is not "only markup".
    unknown = '<function name="create_file" arguments=\'{"path": "a"}\'/>'
    assert [c.name for c in extract_text_tool_calls(unknown, READ_TOOLS + WRITE_TOOLS)[1]] == [
        "create_file"
    ]
    assert only_function_markup("Here: " + unknown) == []
