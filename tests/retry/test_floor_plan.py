"""The rules of retry/'s floor plan that import contracts cannot see: who writes a task's status, and file sizes."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATE_MACHINE = ROOT / "retry" / "transitions"
#: Columns only a transition changes.
STATE = {"status", "attempts", "worker_id", "lease_until", "recoveries", "alone", "notified_at", "run_after"}


def sources(*packages: str) -> list[Path]:
    return [path for package in packages for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts]


def state_writes(path: Path) -> list[str]:
    """The writes of task state in ``path``: ``.update(status=...)`` and the like, and raw UPDATEs of the table."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr
            in {
                "update",
                "bulk_update",
                "update_or_create",
            }
        ):
            written = {keyword.arg for keyword in node.keywords if keyword.arg is not None} & STATE
            if written:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} writes {sorted(written)}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "UPDATE retry_taskrecord" in node.value:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} runs an UPDATE of retry_taskrecord")
    return found


def test_only_the_transitions_write_a_tasks_state() -> None:
    # The application reaches task rows through orders.task_facts alone (an import contract): it is scanned too.
    outside = [path for path in sources("retry") if STATE_MACHINE not in path.parents]
    outside = [path for path in outside if path != ROOT / "retry" / "sql.py"]  # the statements the transitions run
    outside.append(ROOT / "orders" / "task_facts.py")
    assert [write for path in outside for write in state_writes(path)] == []


def test_the_check_sees_a_write_of_state() -> None:
    sample = ROOT / "retry" / "transitions" / "attempts.py"
    assert state_writes(sample), "the scan must find the transitions' own writes"


@pytest.mark.parametrize("path", sources("retry"), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_of_the_retry_layer_is_over_300_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 300
