"""The final answer (ANSWER.txt) must be the number 6 and mention no other number."""

import pathlib
import re
import sys

path = pathlib.Path("ANSWER.txt")
if not path.is_file():
    sys.exit("FAIL: no ANSWER.txt (the agent gave no final answer)")
answer = path.read_text(encoding="utf-8")
numbers = re.findall(r"\d+", answer)
words = re.findall(r"\bsix\b", answer, re.IGNORECASE)
if not (numbers == ["6"] or (not numbers and len(words) == 1)):
    sys.exit(f"FAIL: expected the single number 6, got {answer[:200]!r}")
print("PASS")
