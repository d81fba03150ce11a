"""Prompt files: an id and a version in front matter, a system and a user part, `$name` slots."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template

from .errors import PromptError
from .llm.base import Message

FRONT_MATTER = re.compile(r"^---\n(.*?)\n---\n", re.DOTALL)
SECTION = re.compile(r"^## (system|user)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    id: str
    version: str
    system: Template
    user: Template
    retry: Template | None = None  # the re-ask message after a reply that fails, with `$error`

    def render(self, **values: object) -> tuple[Message, ...]:
        """The messages, with every `$slot` filled; a missing value is an error, not a blank."""
        try:
            return (
                Message(role="system", content=self.system.substitute(values)),
                Message(role="user", content=self.user.substitute(values)),
            )
        except KeyError as e:
            raise PromptError(f"prompt '{self.id}' needs a value for ${e.args[0]}") from e


def prompts_dir() -> Path:
    """`summarizer/prompts` inside an installed wheel, else `prompts/` of a source checkout."""
    packaged = resources.files("summarizer") / "prompts"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "prompts"


@cache
def load(name: str) -> Prompt:
    path = prompts_dir() / f"{name}.md"
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PromptError(f"prompt file not found: {path}") from e
    return parse(raw, origin=str(path))


def parse(raw: str, origin: str = "<prompt>") -> Prompt:
    match = FRONT_MATTER.match(raw)
    if not match:
        raise PromptError(f"{origin}: missing '---' front matter with id and version")
    meta = dict(
        line.split(":", 1) for line in match.group(1).splitlines() if ":" in line
    )
    meta = {k.strip(): v.strip() for k, v in meta.items()}
    parts = SECTION.split(raw[match.end():])
    sections = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
    missing = [k for k in ("id", "version") if not meta.get(k)]
    missing += [f"## {k}" for k in ("system", "user") if k not in sections]
    if missing:
        raise PromptError(f"{origin}: missing {', '.join(missing)}")
    return Prompt(id=meta["id"], version=meta["version"],
                  system=Template(sections["system"]), user=Template(sections["user"]),
                  retry=Template(meta["retry"]) if meta.get("retry") else None)
