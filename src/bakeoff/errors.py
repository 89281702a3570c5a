"""The one error tree of bakeoff.

Errors split into the user's mistakes, which should be fixed before trying again, and failures
of a run, which are recorded against the run and never crash a bake-off. Every error class the
package defines is drawn here (`tests/test_docs.py` checks it); the few defined beside the code
that raises them say where::

    BakeoffError
    ├── UserError                  bad input: fix it and retry
    │   ├── ConfigError            a config file or a task file is malformed (names file + field)
    │   ├── UnknownModelError      a model id or alias no provider knows (lists what is known)
    │   │   └── UnknownProviderError  no provider of that name (config.py; also a KeyError)
    │   ├── StoreError             the results store cannot be read or written (names the file)
    │   ├── MissingKeyError        the provider's API key env var is not set
    │   └── PreflightFailed        models that cannot be made or reached (models/preflight.py)
    └── RunError                   something went wrong while running
        ├── ProviderError          the provider failed a request (status, body, transient?)
        │   ├── EmptyAnswer        HTTP 200 with no text and no tool call: the model's failure
        │   └── ProviderUnreachable  no server answered (connection refused, DNS, ...)
        │       └── ServerCrashed  the embedded server died (models/local_server.py)
        ├── LimitExceeded          max turns / cost cap reached, or a runaway reply (the reason)
        └── ToolError              a tool refused or failed; its message goes back to the model
            └── WorkspaceEscape    a path that would leave the workspace
    HarnessError                   a trial's file work failed (evals/trial/file_work.py); the
                                   trial decides whose fault it was
    UnsafeTarget                   `bakeoff apply` would follow a link or cross a file in the
                                   target folder (evals/run/apply_target.py); nothing written
"""

from __future__ import annotations


class BakeoffError(Exception):
    """Base of every error bakeoff raises on purpose."""


class UserError(BakeoffError):
    """The user's input is wrong; the message says what to do."""


class ConfigError(UserError):
    """A configuration or task file is malformed."""


class UnknownModelError(UserError):
    """A model id that no provider or alias knows."""


class StoreError(UserError):
    """The results store is damaged, foreign, newer, read-only or out of space; the message
    names the file and what to do."""


class MissingKeyError(UserError):
    """A provider needs an API key that is not set."""


class RunError(BakeoffError):
    """A failure while running an agent or a bake-off."""


class ProviderError(RunError):
    """The provider failed a request.

    `transient` errors (429, 5xx, timeouts, dropped connections) are worth retrying;
    `retry_after_s` carries the server's hint when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | None = None,
        transient: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.transient = transient
        self.retry_after_s = retry_after_s


class EmptyAnswer(ProviderError):
    """HTTP 200 with no text and no tool call. The model's own doing — an empty generation, or
    (llama.cpp) a conversation grown past its context window — so the agent stops with
    `rejected`, graded as the model's failure unless its check passes: an infrastructure error
    would leave the trial out of the model's numbers, and a contestant could hide behind it."""


class ProviderUnreachable(ProviderError):
    """No server answered at the provider's address."""


class LimitExceeded(RunError):
    """A run limit was reached; `reason` is one of max_turns, cost_limit, runaway (the wall
    clock is the agent's own `asyncio.timeout`, recorded as `timeout`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ToolError(RunError):
    """A tool could not do what the model asked; the text goes back to the model."""


class WorkspaceEscape(ToolError):
    """A path that resolves outside the workspace."""
