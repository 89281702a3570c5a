"""Export to-dos as CSV or Markdown."""

import csv
import io


def to_csv(todos):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["title", "done", "due", "tags"])
    for todo in todos:
        due = todo.due.isoformat() if todo.due else ""
        writer.writerow([todo.title, "yes" if todo.done else "no", due, ";".join(todo.tags)])
    return out.getvalue()


def to_markdown(todos):
    lines = []
    for todo in todos:
        line = f"- [{'x' if todo.done else ' '}] {todo.title}"
        if todo.due:
            line += f" (due {todo.due.isoformat()})"
        line += "".join(f" #{tag}" for tag in todo.tags)
        lines.append(line + "\n")
    return "".join(lines)
