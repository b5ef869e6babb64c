"""What the pages say about the repository holds: the README is a front door of at most 150 lines with the two
commands, its URLs resolve, the tests and modules the pages name exist, and examples are the code's own."""

import re
from pathlib import Path

from django.urls import Resolver404, resolve

from tests.docs import markdown

README = markdown.read("README.md")
#: A test file, or a test in it, as the pages name them: tests/x/test_y.py, test_y.py::test_z.
TEST_REFERENCE = re.compile(r"((?:tests/[\w/]+/)?test_\w+\.py)(?:::(\w+))?")


def test_the_readme_is_at_most_150_lines() -> None:
    assert len(README.splitlines()) <= 150


def test_the_readme_sets_up_with_make_run_and_make_test_alone() -> None:
    [commands] = markdown.code_blocks(README, "sh")
    assert [line.split("#")[0].strip() for line in commands.splitlines()] == ["make run", "make test"]
    makefile = markdown.read("Makefile")
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_every_url_of_the_readme_is_served() -> None:
    rows = markdown.table_under(README, ["URL", "who", "what"])
    for cells in rows:
        for url in markdown.backticked(cells[0]):
            try:
                resolve(url.replace("<number>", "42"))
            except Resolver404:
                raise AssertionError(f"the README lists {url}, which the URLconf does not serve") from None


def test_the_readme_copies_no_table_of_the_benchmarks() -> None:
    benchmark_rows = {tuple(row) for table in markdown.tables(markdown.read("docs/benchmarks.md")) for row in table}
    readme_rows = {tuple(row) for table in markdown.tables(README) for row in table}
    assert benchmark_rows & readme_rows == set()


def test_the_task_example_is_scoopboards_own_task() -> None:
    [declaration, *_] = markdown.code_blocks(markdown.read("docs/tasks.md"), "python")
    assert declaration in markdown.read("orders/tasks.py")


def test_every_test_the_pages_name_exists() -> None:
    found: dict[str, list[Path]] = {}
    for path in (markdown.ROOT / "tests").rglob("test_*.py"):
        for name in (path.name, str(path.relative_to(markdown.ROOT))):
            found.setdefault(name, []).append(path)
    for page in markdown.pages():
        for span in re.findall(r"`([^`]+)`", page.read_text(encoding="utf-8")):
            for name, function in TEST_REFERENCE.findall(span):
                assert name in found, f"{page.name} names {name}, which does not exist"
                sources = [path.read_text(encoding="utf-8") for path in found[name]]
                defined = any(re.search(rf"def {function}\(", source) for source in sources)
                assert not function or defined, f"{page.name} names {name}::{function}: no such test"


def test_no_page_holds_a_placeholder_its_generator_left_unfilled() -> None:
    # A generated section written from a string that lacked its f prefix: "{result['load_average_before']}".
    for page in markdown.pages():
        for line in page.read_text(encoding="utf-8").splitlines():
            assert not re.search(r"\{\w+\[['\"]", line), f"{page.name}: {line}"
