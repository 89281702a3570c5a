"""The final answer (ANSWER.txt) must be the number 404 and no other number."""

import pathlib
import re
import sys

path = pathlib.Path("ANSWER.txt")
if not path.is_file():
    sys.exit("FAIL: no ANSWER.txt (the agent gave no final answer)")
answer = path.read_text(encoding="utf-8")
numbers = re.findall(r"\d+", answer)
if numbers != ["404"]:
    sys.exit(f"FAIL: expected the single number 404, found {numbers} in {answer[:200]!r}")
print("PASS")
