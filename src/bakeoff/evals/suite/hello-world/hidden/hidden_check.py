"""hello.py must print exactly 'Hello, bakeoff!' and a newline."""

import pathlib
import subprocess
import sys

if not pathlib.Path("hello.py").is_file():
    sys.exit("FAIL: hello.py does not exist")
run = subprocess.run(
    [sys.executable, "hello.py"], capture_output=True, text=True, timeout=20, check=False
)
if run.returncode != 0:
    sys.exit(f"FAIL: hello.py exited with {run.returncode}:\n{run.stderr}")
if run.stdout.replace("\r\n", "\n") != "Hello, bakeoff!\n":
    sys.exit(f"FAIL: expected 'Hello, bakeoff!\\n', got {run.stdout!r}")
print("PASS")
