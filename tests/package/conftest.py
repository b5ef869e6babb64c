"""The wheel of the retry layer, built once per session, and a fresh environment with it installed."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.package import build

LOG_TAIL = 12_000


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def outside_venv(wheel: Path) -> Path:
    return build.fresh_venv(wheel)


@pytest.fixture
def site_logs(request: pytest.FixtureRequest) -> Iterator[list[Any]]:
    """Sites a test registers here have their process logs shown if it fails."""
    sites: list[Any] = []
    request.node.outside_sites = sites
    yield sites


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Show the tail of every process log under a failed test."""
    report = yield
    if report.failed:
        for site in getattr(item, "outside_sites", []):
            for name, text in site.log_text().items():
                report.sections.append((f"log of {name}", text[-LOG_TAIL:]))
    return report
