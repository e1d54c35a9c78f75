"""compose.yaml read the way Compose reads it, without Docker: YAML with anchors and merge
keys, ``${…}`` substituted from an ``.env`` file, ``env_file`` under ``environment``, bind
mounts. Only what compose.yaml uses is implemented, and anything else fails loudly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "compose.yaml"
EXAMPLE_ENV = ROOT / "deploy/compose.env.example"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}; $$ is a $
SUBSTITUTION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


class MissingVariable(ValueError):
    """A ``${NAME:?message}`` whose variable is unset: compose stops with the message."""


@dataclass(frozen=True)
class ComposeService:
    name: str
    command: list[str]
    environment: dict[str, str]  # env_file first, then `environment` over it, substituted
    mounts: list[tuple[Path, str]]  # (host path, container path) of bind mounts
    profiles: list[str]
    ports: list[str]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments skipped; values taken literally."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{path}: not KEY=VALUE: {line!r}")
        values[key] = value
    return values


def substitute(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = env.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op is None:
            return value or ""
        if op.endswith("-"):
            return arg if unset else str(value)
        if unset:
            raise MissingVariable(f"required variable {name} is missing a value: {arg}")
        return str(value)

    return SUBSTITUTION.sub(one, text)


def braces_inside_substitutions(text: str) -> list[str]:
    """Every ``${…}`` whose text up to the first ``}`` holds a ``{``: Compose releases before
    compose-go v2 end it there and leave the rest of the default as stray text."""
    return [found for found in re.findall(r"\$\{[^}]*\}", text) if "{" in found[2:]]


def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def service(name: str, dotenv: dict[str, str]) -> ComposeService:
    spec = raw()["services"][name]
    environment: dict[str, str] = {}
    for env_file in spec.get("env_file", []):
        environment.update(read_env_file(ROOT / env_file))
    for key, value in (spec.get("environment") or {}).items():
        environment[key] = substitute(str(value), dotenv)
    mounts = []
    for volume in spec.get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("."):  # named volumes (pgdata) are the servers', not ours
            mounts.append((ROOT / host, container))
    return ComposeService(
        name=name,
        command=[substitute(str(part), dotenv) for part in spec.get("command", [])],
        environment=environment,
        mounts=mounts,
        profiles=list(spec.get("profiles", [])),
        ports=list(spec.get("ports", [])),
    )
