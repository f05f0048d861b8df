"""The code checks run with the tests, so one command runs every check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return str(found)


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "rcsbatch", "tests", "bench", "examples"], ["mypy"]],
    ids=["ruff", "mypy-strict"],
)
def test_code_checks_pass(command: list[str]) -> None:
    """ruff (rules in pyproject.toml) and mypy --strict on the package report nothing."""
    done = subprocess.run(
        [tool(command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
