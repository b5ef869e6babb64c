"""Helpers of the project tests: settings loaded in a fresh interpreter with a chosen environment."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

BASE_DIR = Path(__file__).resolve().parents[2]
# Enough of the parent's environment to start Python; every setting comes from the test.
KEPT = ("PATH", "HOME", "LANG", "SYSTEMROOT")
PROBE = """
import json, sys
import project.settings as settings
print(json.dumps({name: getattr(settings, name) for name in sys.argv[1:]}, default=str))
"""


def clean_env(variables: dict[str, str]) -> dict[str, str]:
    kept = {name: os.environ[name] for name in KEPT if name in os.environ}
    return {**kept, "PYTHONDONTWRITEBYTECODE": "1", **variables}


def run_python(args: list[str], variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=clean_env(variables), cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )


def load_settings(names: list[str], **variables: str) -> dict[str, Any]:
    """Import project.settings with exactly these environment variables; return the named settings."""
    result = run_python(["-c", PROBE, *names], variables)
    assert result.returncode == 0, result.stderr
    return cast(dict[str, Any], json.loads(result.stdout))


def settings_error(**variables: str) -> str:
    """Import project.settings expecting it to refuse the environment; return the error line."""
    result = run_python(["-c", "import project.settings"], variables)
    assert result.returncode != 0, "the settings accepted the environment"
    return result.stderr.strip().splitlines()[-1]
