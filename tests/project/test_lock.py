"""The tests run on the lock: every installed package is at its version in uv.lock, the lock matches
pyproject.toml, and an install from a pyproject.toml the lock does not match stops (docs/development.md)."""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The installers: pip makes the venv and installs uv, which installs the lock.
INSTALLERS = {"pip", "uv"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {package["name"]: package["version"] for package in lock["package"] if "version" in package}


def group_pins(group: str) -> dict[str, str]:
    """name -> version of each `name==version` in a dependency group, its included groups too."""
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    pins: dict[str, str] = {}
    for entry in groups[group]:
        if isinstance(entry, dict):
            pins |= group_pins(entry["include-group"])
        else:
            m = re.fullmatch(r"([\w.-]+)(?:\[[\w,]+\])?==(\S+)", entry)
            assert m is not None
            name, version = m.groups()
            pins[canonical(name)] = version
    return pins


def test_every_installed_package_is_at_its_locked_version() -> None:
    versions = locked()
    installed = {canonical(dist.metadata["Name"]): dist.version for dist in importlib.metadata.distributions()}
    strays = {name: version for name, version in installed.items() if versions.get(name) != version}
    assert strays.keys() <= INSTALLERS, strays
    assert {name: installed.get(name) for name in group_pins("test")} == group_pins("test")


def run_make(directory: Path, target: str) -> subprocess.CompletedProcess[str]:
    """`make target` in ``directory`` with this venv, uv offline (tests reach no registry), uv already there."""
    venv = Path(sys.prefix)
    m = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert m is not None
    version = m.group(1)
    return subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/.uv-{version}", target],
        cwd=directory,
        env={**os.environ, "UV_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """What `make lock-check` reads: the Makefile, pyproject.toml, uv.lock and the version's source."""
    for name in ("Makefile", "pyproject.toml", "uv.lock", ".python-version", "retry/__init__.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_lock_matches_pyproject_and_a_pyproject_it_does_not_match_stops_the_install(checkout: Path) -> None:
    assert run_make(checkout, "lock-check").returncode == 0
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"honcho==2.0.0",', '"honcho==1.1.0",'))
    refused = run_make(checkout, "install-run")
    assert refused.returncode != 0
    assert "uv.lock does not match pyproject.toml: run 'make lock' and commit uv.lock." in refused.stdout
    assert "sync" not in refused.stdout + refused.stderr  # stopped before uv sync
