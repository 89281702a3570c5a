"""A tiny to-do list library."""

from todo.model import Todo
from todo.store import TodoList

__all__ = ["Todo", "TodoList"]
