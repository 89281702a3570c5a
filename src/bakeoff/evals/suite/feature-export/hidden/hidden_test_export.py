import ast
import pathlib
import re
from datetime import date

import pytest
from todo import Todo, TodoList
from todo.export import to_csv, to_markdown

TODOS = [
    Todo("Buy milk", done=True, tags=["home", "errand"]),
    Todo("File taxes", due=date(2024, 4, 30)),
    Todo('Call "Bob", re: lunch', due=date(2024, 5, 2), tags=["work"]),
]


def test_csv():
    assert to_csv(TODOS) == (
        "title,done,due,tags\n"
        "Buy milk,yes,,home;errand\n"
        "File taxes,no,2024-04-30,\n"
        '"Call ""Bob"", re: lunch",no,2024-05-02,work\n'
    )


def test_csv_of_nothing_is_just_the_header():
    assert to_csv([]) == "title,done,due,tags\n"


def test_markdown():
    assert to_markdown(TODOS) == (
        "- [x] Buy milk #home #errand\n"
        "- [ ] File taxes (due 2024-04-30)\n"
        '- [ ] Call "Bob", re: lunch (due 2024-05-02) #work\n'
    )


def test_markdown_of_nothing_is_empty():
    assert to_markdown([]) == ""


def test_todolist_export():
    todos = TodoList()
    todos.add("Buy milk", tags=["home"])
    todos.add("File taxes", due=date(2024, 4, 30))
    todos.complete("Buy milk")
    assert (
        todos.export("csv")
        == "title,done,due,tags\nBuy milk,yes,,home\nFile taxes,no,2024-04-30,\n"
    )
    assert todos.export("markdown") == "- [x] Buy milk #home\n- [ ] File taxes (due 2024-04-30)\n"


@pytest.mark.parametrize("fmt", ["json", "", "CSV2"])
def test_unknown_format(fmt):
    with pytest.raises(ValueError):
        TodoList().export(fmt)


def test_agent_wrote_tests():
    path = pathlib.Path("tests/test_export.py")
    assert path.is_file(), "tests/test_export.py is missing"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tests = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
    ]
    assert len(tests) >= 3


def test_readme_has_export_section():
    readme = pathlib.Path("README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Export\s*$(.*?)(?=^## |\Z)", readme, re.MULTILINE | re.DOTALL)
    assert match, "no '## Export' section"
    assert "export(" in match.group(1)
    assert "## Usage" in readme and "## Tests" in readme, "existing sections must stay"
