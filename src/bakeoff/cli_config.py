"""`bakeoff config` and `bakeoff init config`, and the one place where `bakeoff run` decides its
standing settings (`standing_settings`): each comes from its flag when given, else from the
`[defaults]` table of the config file (`config.DefaultsConfig`), else is built in. `bakeoff
config` prints every one with where it came from; `bakeoff init config` writes a commented
bakeoff.toml to start from."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bakeoff.cli_common import split
from bakeoff.errors import ConfigError, UserError

Source = Literal["flag", "config", "config+flag", "default"]
"""Where a setting came from: its flag, the config file's `[defaults]`, both (labels merge), or
the built-in default."""

FLAG_OF = {
    "models": "models",
    "judges": "judge",
    "repeats": "repeats",
    "timeout": "timeout",
    "max_cost": "max_cost",
    "max_parallel": "max_parallel",
    "labels": "label",
    "allow_commands": "allow_commands",
}
"""Each `[defaults]` key -> the argparse dest of the flag it stands in for."""

EXAMPLES = {
    "models": '["gpt-5-mini", "haiku", "local"]',
    "judges": '["gpt-5"]',
    "repeats": "3",
    "timeout": "300",
    "max_cost": "5.0",
    "max_parallel": "8",
    "labels": '{ team = "infra" }',
    "allow_commands": "false",
}
"""A valid example value per `[defaults]` key, for the file `init config` writes."""


@dataclass(frozen=True)
class Setting:
    """One effective setting of `bakeoff run` and where it came from."""

    value: Any
    source: Source


def _builtin(name: str) -> Any:
    if name == "timeout":
        from bakeoff.agent import AgentConfig

        return AgentConfig.model_fields["timeout_s"].default
    builtin = {"models": [], "judges": [], "repeats": 1, "max_cost": None, "max_parallel": 32}
    return builtin.get(name, {} if name == "labels" else False)


def _flag(args: argparse.Namespace, name: str) -> Any:
    """The flag's value in the `[defaults]` shape; None when the flag was not given."""
    raw = getattr(args, FLAG_OF[name], None)
    if name == "models":
        return split(raw) or None  # an empty --models is no choice: the defaults run
    if name == "judges":
        return None if raw is None else split(raw)  # --judge "" turns default judges off
    if name == "labels":
        return dict(raw) if raw else None
    return raw


def standing_settings(args: argparse.Namespace, config: Any) -> dict[str, Setting]:
    """Every `[defaults]` setting of `bakeoff run` for these parsed flags and this config
    (`BakeoffConfig`): a given flag wins, then the config file, then the built-in default.
    Labels merge: the file's, then the flags' (a flag's value wins for its key)."""
    from bakeoff.labels import merge_labels

    defaults = config.defaults
    out: dict[str, Setting] = {}
    for name in FLAG_OF:
        flag, in_file = _flag(args, name), name in defaults.model_fields_set
        if name == "labels" and flag is not None:
            try:
                merged = merge_labels(defaults.labels, flag)
            except ValueError as exc:  # too many, once merged
                raise UserError(f"--label: {exc}") from None
            out[name] = Setting(merged, "config+flag" if defaults.labels else "flag")
        elif flag is not None:
            out[name] = Setting(flag, "flag")
        elif in_file and getattr(defaults, name) is not None:
            out[name] = Setting(getattr(defaults, name), "config")
        else:
            out[name] = Setting(_builtin(name), "default")
    return out


def apply_defaults(args: argparse.Namespace, config: Any) -> argparse.Namespace:
    """A copy of `args` with every standing flag set as `bakeoff run` uses it (the
    `standing_settings`), and `tags`, the new run's labels."""
    settings = standing_settings(args, config)
    filled = argparse.Namespace(**vars(args))
    for name, setting in settings.items():
        value = setting.value
        setattr(filled, FLAG_OF[name], ",".join(value) if name in ("models", "judges") else value)
    filled.tags = settings["labels"].value
    return filled


def _shown(name: str, value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    if value is None:
        return "(no cap)" if name == "max_cost" else "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "timeout":
        return f"{value:g} s"
    return f"${value:g}" if name == "max_cost" else str(value)


def cmd_config(args: argparse.Namespace) -> int:
    from bakeoff.config import load_config

    config = load_config(args.config)
    settings = standing_settings(args, config)
    file = str(config.source.absolute()) if config.source is not None else None
    if args.json:
        public = {n: {"value": s.value, "source": s.source} for n, s in settings.items()}
        sys.stdout.write(json.dumps({"config_file": file, "settings": public}, indent=2) + "\n")
        return 0
    where = file or "none found (`bakeoff init config` writes ./bakeoff.toml)"
    print(f"config file: {where}")
    print("bakeoff run uses (a flag wins, then [defaults] in the config file, then built in):")
    shown = {name: _shown(name, s.value) for name, s in settings.items()}
    width = min(48, max(len(v) for v in shown.values()))
    for name, s in settings.items():
        source = s.source.replace("config", file or "config").replace("+", " + ")
        print(f"  {name:<15} {shown[name]:<{width}}  {source}")
    return 0


def config_template(models: list[str] | None = None) -> str:
    """A commented bakeoff.toml: every `[defaults]` key with its meaning and an example (the
    meaning is `DefaultsConfig`'s own field docstring), `models` set when given."""
    from bakeoff.config import DefaultsConfig

    lines = [
        "# bakeoff.toml, written by `bakeoff init config`. bakeoff reads the first of: --config",
        "# FILE, $BAKEOFF_CONFIG, ./bakeoff.toml, ~/.config/bakeoff/config.toml.",
        "# `bakeoff config` shows what `bakeoff run` would use, and where each value came from.",
        "",
        "[defaults]",
        "# What `bakeoff run` uses for a flag it is not given (a flag always wins).",
    ]
    for name, field in DefaultsConfig.model_fields.items():
        lines += ["", *(f"# {line}".rstrip() for line in (field.description or "").splitlines())]
        if name == "models" and models:
            lines.append(f"models = [{', '.join(_toml_string(m) for m in models)}]")
        else:
            lines.append(f"# {name} = {EXAMPLES[name]}")
    lines += [
        "",
        "# Any OpenAI-compatible server is a provider, with no code:",
        "# [providers.gpubox]",
        '# base_url = "http://gpu-box:8000/v1"',
        '# api_key_env = "GPUBOX_API_KEY"',
        "",
        "# [aliases]",
        '# fast = "openai:gpt-5-mini"',
    ]
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    if not text.isprintable():  # a lone surrogate from argv cannot be written as UTF-8
        raise UserError(f"--models: {text[:40]!r} is not a model id (printable text)")
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def cmd_init_config(args: argparse.Namespace) -> int:
    """`bakeoff init config`: write DIR/bakeoff.toml, refusing to replace one without --force."""
    from bakeoff.config import load_config

    target = Path(args.dir) / "bakeoff.toml"
    if target.exists() and not args.force:
        raise UserError(f"{target} exists: pass --force to replace it, or edit it")
    text = config_template(split(args.models) or None)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror}") from None
    try:
        load_config(target)  # what was written must load; a bad --models entry says so now
    except ConfigError as exc:
        raise UserError(f"wrote {target}, but it does not load: {exc}") from None
    print(f"wrote {target}; `bakeoff config` shows what `bakeoff run` will use")
    return 0


def add_standing_flags(p: argparse.ArgumentParser) -> None:
    """The flags bakeoff.toml's `[defaults]` stands in for (but --models and --timeout, whose
    defaults differ between run, demo and config): absent, each is None."""
    from bakeoff.cli_flags import count, label, usd

    p.add_argument(
        "--judge",
        help="comma-separated judge model ids (LLM-as-judge, blind; default: [defaults] judges; "
        '--judge "" for none)',
    )
    p.add_argument(
        "--repeats",
        type=count(1, 10_000),
        help="runs per task and model (default: [defaults] repeats, else 1)",
    )
    p.add_argument(
        "--max-cost",
        type=usd,
        help="stop starting trials once contestants and judges have spent this many USD "
        "(refused while a model has no known price, unless --allow-unpriced; default: "
        "[defaults] max_cost, else no cap)",
    )
    p.add_argument(
        "--max-parallel",
        type=count(1, 4096),
        help="trials in flight at most (default: [defaults] max_parallel, else 32)",
    )
    p.add_argument(
        "--label",
        action="append",
        type=label,
        metavar="KEY=VALUE",
        help="label the new run (repeatable; added to [defaults] labels), to find it with "
        "`bakeoff runs --label KEY=VALUE`",
    )
    p.add_argument(
        "--allow-commands",
        action=argparse.BooleanOptionalAction,
        help="offer run_command in every task (default: [defaults] allow_commands, else off)",
    )


def add_config_commands(sub: Any) -> None:
    """Register `config` on the main parser's subparsers (`init config` is a target of
    `bakeoff init`, which calls `cmd_init_config`)."""
    from bakeoff.cli_common import example_parser
    from bakeoff.cli_flags import seconds

    p = example_parser(
        sub,
        "config",
        "show every setting `bakeoff run` would use and where it came from",
        "examples:\n  bakeoff config\n  bakeoff config --repeats 3 --json\n"
        "  bakeoff init config --models haiku,local     write a commented bakeoff.toml",
    )
    p.add_argument("--models", help="comma-separated model ids or aliases, as for run")
    p.add_argument("--timeout", type=seconds, help="wall-clock limit per trial in seconds")
    add_standing_flags(p)
    p.add_argument("--json", action="store_true", help="print each value and its source as JSON")
    p.set_defaults(handler=cmd_config)
