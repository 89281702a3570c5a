"""error_codes.py must be the generated original with one change: E2317's status 500 -> 503.

generate() is also how files/error_codes.py (fixed=False) and solution/error_codes.py
(fixed=True) were made; the suite's tests check that they still match it.
"""

import pathlib
import sys

SUBJECTS = [
    "Invoice",
    "Customer",
    "Payment capture",
    "Refund",
    "Subscription",
    "Coupon",
    "Tax rate",
    "Credit note",
    "Webhook",
    "Price plan",
    "Usage record",
    "Payout",
    "Dispute",
    "Ledger entry",
]
PROBLEMS = [
    ("not found", 404),
    ("already exists", 409),
    ("is invalid", 422),
    ("timed out", 504),
    ("failed", 500),
    ("is locked", 423),
    ("is forbidden", 403),
    ("is unavailable", 503),
]
FIRST, LAST, TARGET = 1000, 3299, 2317


def generate(fixed):
    lines = [
        '"""Error codes of the billing API: code -> (message, HTTP status).',
        "",
        "GENERATED FILE: do not edit by hand.",
        '"""',
        "",
        "ERROR_CODES = {",
    ]
    state = 20240514
    for code in range(FIRST, LAST + 1):
        state = (state * 1103515245 + 12345) % 2**31  # a fixed LCG: same file on every Python
        subject = SUBJECTS[state % len(SUBJECTS)]
        problem, status = PROBLEMS[(state >> 8) % len(PROBLEMS)]
        message = f"{subject} {problem}"
        if code == TARGET:
            message, status = "Payment capture failed", 503 if fixed else 500
        elif code == TARGET + 1:
            message, status = f"Retry of E{TARGET} failed", 500
        lines.append(f'    "E{code}": ("{message}", {status}),')
    lines += [
        "}",
        "",
        "",
        "def lookup(code):",
        '    """(message, status) for `code`, or a generic 500 for unknown codes."""',
        '    return ERROR_CODES.get(code, ("Unknown error", 500))',
    ]
    return "\n".join(lines) + "\n"


def main():
    path = pathlib.Path("error_codes.py")
    if not path.is_file():
        sys.exit("FAIL: error_codes.py is missing")
    got = path.read_bytes()
    expected = generate(fixed=True).encode()
    if got == expected:
        print("PASS")
        return
    got_lines, want_lines = got.split(b"\n"), expected.split(b"\n")
    for number, (have, want) in enumerate(zip(got_lines, want_lines, strict=False), start=1):
        if have != want:
            sys.exit(f"FAIL: line {number} is {have[:120]!r}, expected {want[:120]!r}")
    sys.exit(f"FAIL: the file has {len(got_lines)} lines, expected {len(want_lines)}")


if __name__ == "__main__":
    main()
