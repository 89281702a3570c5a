"""Evaluate arithmetic expressions such as "2 * (3 + 4) ** 2" without eval()."""

import re

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*|\.\d+)|(\*\*|[-+*/()]))")


def _tokens(expression):
    tokens, pos = [], 0
    expression = expression.rstrip()
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if match is None:
            raise ValueError(f"unexpected character at {pos}: {expression[pos:]!r}")
        number, op = match.groups()
        tokens.append(("num", float(number)) if number else ("op", op))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, op):
        if self.peek() == ("op", op):
            self.pos += 1
            return True
        return False

    def expr(self):  # expr := term (('+' | '-') term)*
        value = self.term()
        while True:
            if self.take("+"):
                value += self.term()
            elif self.take("-"):
                value -= self.term()
            else:
                return value

    def term(self):  # term := unary (('*' | '/') unary)*
        value = self.unary()
        while True:
            if self.take("*"):
                value *= self.unary()
            elif self.take("/"):
                value /= self.unary()
            else:
                return value

    def unary(self):  # unary := ('+' | '-') unary | power
        if self.take("-"):
            return -self.unary()
        if self.take("+"):
            return self.unary()
        return self.power()

    def power(self):  # power := atom ('**' unary)?
        base = self.atom()
        if self.take("**"):
            return base ** self.unary()
        return base

    def atom(self):  # atom := number | '(' expr ')'
        kind, value = self.peek()
        if kind == "num":
            self.pos += 1
            return value
        if self.take("("):
            inner = self.expr()
            if not self.take(")"):
                raise ValueError("missing ')'")
            return inner
        raise ValueError(f"expected a number or '(' at token {self.pos}")


def evaluate(expression):
    """The value of `expression` as a float; see the task for the grammar."""
    parser = _Parser(_tokens(expression))
    value = parser.expr()
    if parser.pos != len(parser.tokens):
        raise ValueError(f"unexpected token at {parser.pos}")
    return float(value)
