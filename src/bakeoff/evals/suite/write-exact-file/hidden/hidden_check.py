"""shopping.txt must hold exactly three lines; one final newline is optional."""

import pathlib
import sys

path = pathlib.Path("shopping.txt")
if not path.is_file():
    sys.exit("FAIL: shopping.txt does not exist")
text = path.read_text(encoding="utf-8")
if text not in ("apples\nbread\nolive oil", "apples\nbread\nolive oil\n"):
    sys.exit(f"FAIL: unexpected content {text!r}")
print("PASS")
