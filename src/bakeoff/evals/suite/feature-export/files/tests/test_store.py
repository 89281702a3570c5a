from datetime import date

import pytest
from todo import TodoList


def test_add_and_pending():
    todos = TodoList()
    todos.add("a")
    todos.add("b", due=date(2024, 1, 2), tags=["x"])
    assert [todo.title for todo in todos.pending()] == ["a", "b"]


def test_complete():
    todos = TodoList()
    todos.add("a")
    todos.complete("a")
    assert todos.pending() == []


def test_complete_unknown():
    with pytest.raises(KeyError):
        TodoList().complete("nope")
