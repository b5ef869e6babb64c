"""`make dist`'s wheel holds the retry package and nothing of Scoopboard."""

import zipfile
from email.parser import Parser
from pathlib import Path

from tests.processes import ROOT


def source_files() -> set[str]:
    """Every file of the retry package in this tree, as the wheel names it."""
    files = (path for path in (ROOT / "retry").rglob("*") if path.is_file())
    return {str(path.relative_to(ROOT)) for path in files if "__pycache__" not in path.parts}


def version_in_source() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "retry" / "__init__.py").read_text(), namespace)
    return namespace["__version__"]


def test_the_wheel_holds_the_retry_package_with_its_data_and_nothing_else(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    info = {name for name in names if name.split("/")[0].endswith(".dist-info")}
    assert names - info == source_files()
    for shipped in (
        "retry/py.typed",
        "retry/migrations/0001_initial.py",
        "retry/templates/retry/dashboard.html",
        "retry/templates/admin/retry/confirm_action.html",
        "retry/static/retry/dashboard.js",
        "retry/management/commands/runworker.py",
    ):
        assert shipped in names
    tops = {name.split("/")[0] for name in names - info}
    assert tops == {"retry"}, "orders, consumers, project, tests, benchmarks, harness and examples stay out"
    assert not [name for name in names if name.endswith(".pyc")]


def test_the_wheel_is_named_and_versioned_apart_from_scoopboard_with_ranges_for_what_it_needs(wheel: Path) -> None:
    version = version_in_source()
    assert wheel.name == f"django_channels_retry-{version}-py3-none-any.whl"
    (metadata,) = [name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".dist-info/METADATA")]
    fields = Parser().parsestr(zipfile.ZipFile(wheel).read(metadata).decode())
    assert (fields["Name"], fields["Version"]) == ("django-channels-retry", version)
    requires = fields.get_all("Requires-Dist")
    assert requires is not None
    assert {r for r in requires if "extra ==" not in r} == {"django<6.2,>=6.1", "channels<5,>=4.3", "croniter<8,>=2.0"}
    extras = fields.get_all("Provides-Extra")
    assert extras is not None
    assert set(extras) == {"redis", "serve", "prometheus", "sentry"}
