"""``finsentry settings``: every variable the product reads, with its default (deploy/.env.example)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from pydantic import BaseModel, SecretStr

from finsentry.settings import Settings

settings_app = typer.Typer(help="What can be configured, and how it is configured now.", no_args_is_help=True)


def _default(field: Any) -> str:
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, SecretStr) or value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def env_variables() -> Iterator[tuple[str, str, str]]:
    """(group doc, variable, default) for every setting, in declaration order."""
    for name, field in Settings.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            doc = (kind.__doc__ or name).strip().splitlines()[0]
            for sub, subfield in kind.model_fields.items():
                yield doc, f"FINSENTRY_{name.upper()}__{sub.upper()}", _default(subfield)
        else:
            yield "General", f"FINSENTRY_{name.upper()}", _default(field)


def env_example() -> str:
    """The text of ``deploy/.env.example``'s settings part: every variable, commented, with its default."""
    out: list[str] = []
    group = None
    for doc, var, default in env_variables():
        if doc != group:
            out.append(f"\n# {doc}")
            group = doc
        out.append(f"# {var}={default}")
    return "\n".join(out).lstrip("\n") + "\n"


@settings_app.command("env")
def settings_env() -> None:
    """Print every FINSENTRY_* variable with its default, as an env file."""
    sys.stdout.write(env_example())


@settings_app.command("show")
def settings_show(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = True
) -> None:
    """The settings in effect (secrets masked)."""
    settings: Settings = ctx.obj
    sys.stdout.write(json.dumps(settings.model_dump(mode="json"), indent=2, default=str) + "\n")
