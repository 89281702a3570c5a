from datetime import date

import pytest
from todo import Todo, TodoList
from todo.export import to_csv, to_markdown


def test_csv_rows():
    todos = [Todo("a, b", done=True, tags=["x", "y"]), Todo("c", due=date(2024, 1, 2))]
    assert to_csv(todos) == 'title,done,due,tags\n"a, b",yes,,x;y\nc,no,2024-01-02,\n'


def test_markdown_lines():
    todos = [Todo("a", done=True, tags=["x"]), Todo("c", due=date(2024, 1, 2))]
    assert to_markdown(todos) == "- [x] a #x\n- [ ] c (due 2024-01-02)\n"


def test_export_dispatch_and_errors():
    todos = TodoList()
    todos.add("a")
    assert todos.export("markdown") == "- [ ] a\n"
    assert todos.export("csv").startswith("title,done,due,tags\n")
    with pytest.raises(ValueError):
        todos.export("xml")
