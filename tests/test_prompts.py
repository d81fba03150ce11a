"""Prompts are versioned files, rendered strictly, and shipped inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from summarizer import prompts
from summarizer.errors import PromptError


@pytest.mark.parametrize("name", ["choose", "choose_and_fuse", "fuse", "claims", "judge",
                                  "backs"])
def test_each_prompt_has_an_id_a_version_and_both_roles(name: str):
    prompt = prompts.load(name)
    assert prompt.id == name and prompt.version
    values = {"about": "A", "lines": "[1.1] x", "limit": 3, "summary": "s", "claim": "c",
              "passages": "[1.1] x", "language": "English"}
    roles = [m.role for m in prompt.render(**values)]
    assert roles == ["system", "user"]


def test_prompts_that_are_re_asked_carry_their_retry_message():
    for name in ("choose_and_fuse", "fuse", "claims", "judge", "backs"):
        retry = prompts.load(name).retry
        assert retry is not None and "$error" in retry.template


def test_a_missing_variable_is_an_error_naming_it():
    with pytest.raises(PromptError, match="lines"):
        prompts.load("choose").render(about="A", limit=3)


def test_a_prompt_file_without_front_matter_is_refused():
    with pytest.raises(PromptError, match="front matter"):
        prompts.parse("## system\nhi\n## user\nthere\n", origin="bad.md")


def test_the_wheel_ships_the_prompts(tmp_path: Path):
    pytest.importorskip("hatchling", reason="hatchling is needed to build the wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)], check=True, timeout=300, capture_output=True)
    wheel = next(tmp_path.glob("summarizer-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("choose", "choose_and_fuse", "fuse", "claims", "judge", "backs"):
        assert f"summarizer/prompts/{name}.md" in names
    # Installed from the wheel, away from the source tree, the package finds its own copy.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, timeout=300, capture_output=True)
    found = subprocess.run(
        [sys.executable, "-c", "from summarizer import prompts; "
         "print(prompts.prompts_dir()); print(prompts.load('choose').version)"],
        env={"PYTHONPATH": str(target)}, cwd=tmp_path, capture_output=True, text=True,
        check=True, timeout=60)
    where, version = found.stdout.split()
    assert Path(where) == target / "summarizer" / "prompts"
    assert version == prompts.load("choose").version
