"""The retry layer's wheel, built from this tree as `make dist` builds it, and a fresh virtual environment of this
interpreter that has it installed, made once per wheel and shared by the tests (and by both passes of `make test`)."""

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

from tests.processes import ROOT

#: The wheel's extras the example installs (daphne, channels-redis), and what it needs besides.
EXTRAS = "[redis,serve]"
EXAMPLE_NEEDS = ("psycopg[binary]",)
#: Fresh environments live here, one per wheel and pins; others unused for this many seconds are removed.
CACHE = Path(tempfile.gettempdir()) / "retry-outside-venvs"
CACHE_TTL = 3 * 24 * 3600
#: Variables the outside processes keep from ours, with pip's own (PIP_*; its cache lives under HOME).
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")


def build_wheel(out_dir: Path) -> Path:
    """`make dist`'s command, with the backend of the test group (pip fetches it only where it is not installed)."""
    argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out_dir), "."]
    if importlib.util.find_spec("hatchling"):
        argv.insert(4, "--no-build-isolation")
    run(argv, cwd=ROOT)
    (wheel,) = out_dir.glob("*.whl")
    return wheel


def pins() -> list[str]:
    """Every `name==version` of Scoopboard's run dependency group."""
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    return [entry for entry in groups["run"] if isinstance(entry, str)]


def requirements(wheel: Path) -> list[str]:
    by_name = {pin.split("==")[0].split("[")[0]: pin for pin in pins()}
    return [f"{wheel}{EXTRAS}", *(by_name[name.split("[")[0]] for name in EXAMPLE_NEEDS)]


def fresh_venv(wheel: Path) -> Path:
    """A virtual environment with ``wheel`` and the example's needs, every version held to Scoopboard's pins."""
    constraints = "".join(re.sub(r"\[.*\]", "", pin) + "\n" for pin in pins())  # constraints take no extras
    recipe = [hashlib.sha256(wheel.read_bytes()).hexdigest(), constraints, *requirements(Path()), sys.version]
    venv = CACHE / hashlib.sha256("\n".join(recipe).encode()).hexdigest()[:16]
    CACHE.mkdir(exist_ok=True)
    with locked(venv.with_suffix(".lock")):
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            run([sys.executable, "-m", "venv", str(venv)], env=outside_env())
            (venv / "constraints.txt").write_text(constraints)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            run([*pip, "--constraint", str(venv / "constraints.txt"), *requirements(wheel)], env=outside_env())
        (venv / ".complete").touch()
        os.utime(venv)  # in use: not removed as old
    remove_old(keep=venv)
    return venv


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: the two passes of `make test` may want the same environment at once."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_old(keep: Path) -> None:
    for other in CACHE.iterdir():
        if other.is_dir() and other != keep and time.time() - other.stat().st_mtime > CACHE_TTL:
            shutil.rmtree(other, ignore_errors=True)
            other.with_suffix(".lock").unlink(missing_ok=True)


def outside_env(**extra: str) -> dict[str, str]:
    """An environment that knows nothing of this checkout: no PYTHONPATH, no virtual environment of ours."""
    kept = {name: value for name, value in os.environ.items() if name in KEPT or name.startswith("PIP_")}
    return {**kept, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", **extra}


def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command to its end; on failure, raise with what it printed."""
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout
