"""An ordered list of to-dos."""

from todo.model import Todo


class TodoList:
    def __init__(self):
        self.todos = []

    def add(self, title, due=None, tags=()):
        todo = Todo(title, due=due, tags=list(tags))
        self.todos.append(todo)
        return todo

    def complete(self, title):
        for todo in self.todos:
            if todo.title == title:
                todo.done = True
                return todo
        raise KeyError(title)

    def pending(self):
        return [todo for todo in self.todos if not todo.done]
