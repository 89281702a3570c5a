"""The limits and options of one nano-agent run (`AgentConfig`): a data shape, kept apart from
the loop in `bakeoff.agent` so the records that store it import nothing but data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bakeoff.models.tool_format import SYSTEM_PROMPT
from bakeoff.protected import ProtectedPaths


class AgentConfig(BaseModel):
    """Limits and options for one nano-agent run."""

    model_config = ConfigDict(extra="forbid")

    max_turns: int = 20
    """Model requests allowed before the run stops with reason max_turns."""
    max_output_tokens: int = 4096
    """Output-token cap sent with every request (max_completion_tokens for GPT-5)."""
    timeout_s: float = 300.0
    """Wall-clock limit for the whole run, model load excluded."""
    max_cost_usd: float | None = None
    """Stop once the run has spent this much (checked after each request; the requests whose
    cost is unknown count as $0, so the cap is a floor on what was spent)."""
    allow_commands: bool = False
    """Offer run_command (in the OS sandbox: cwd = workspace, timeout, output capped, no keys).
    Without a working sandbox it is not offered unless `unsafe_no_sandbox`."""
    unsafe_no_sandbox: bool = False
    """Where bubblewrap cannot run, offer run_command anyway, unsandboxed (marked so)."""
    allow_network: bool = False
    """Give run_command (and the checks) the host's network."""
    allow_git_writes: bool = False
    """Let write_file and edit_file change `.git/` (off: a planted hook or config would run
    code on the user's next git command)."""
    protected: ProtectedPaths = Field(default_factory=ProtectedPaths)
    """Paths write_file and edit_file refuse beyond the built-in ones, or built-ins lifted."""
    read_only: bool = False
    """Offer only read_file, list_directory and get_file_info."""
    command_timeout_s: float = 60.0
    """Timeout of one run_command call."""
    system_prompt: str = SYSTEM_PROMPT
    """The system message, as the model's tool format sends it (`ToolFormat.system_prompt`):
    `tool_format.COMMANDS_NOTE` is added to it when run_command is offered, and the `blocks`
    format sends its own instead of this default (a prompt set here is sent as it is)."""
