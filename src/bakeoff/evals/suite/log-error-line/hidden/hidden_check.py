"""The final answer (ANSWER.txt) must quote the one ERROR line verbatim.

A short lead-in is tolerated: some line of the answer, once stripped of blanks, quotes and
backticks, must equal the log line exactly, and the answer must stay short.
"""

import pathlib
import sys

EXPECTED = (
    "2024-05-14 09:13:27 ERROR payments: gateway timeout after 30s (order=A-10293, attempt=3)"
)

path = pathlib.Path("ANSWER.txt")
if not path.is_file():
    sys.exit("FAIL: no ANSWER.txt (the agent gave no final answer)")
answer = path.read_text(encoding="utf-8")
if len(answer) > 400:
    sys.exit(f"FAIL: the answer is {len(answer)} characters; quote the line, nothing more")
lines = [line.strip().strip("`'\"").strip() for line in answer.splitlines()]
if EXPECTED not in lines:
    sys.exit(f"FAIL: no line of the answer equals the ERROR line; got {answer!r}")
print("PASS")
