"""Every relative link of README.md and docs/ leads to a file that exists, and to a heading of it when it names
one; every page is reachable: docs/*.md from the README, docs/operations/*.md from docs/operations.md."""

from pathlib import Path

import pytest

from tests.docs import markdown


def relative_links() -> list[tuple[Path, str]]:
    return [
        (page, target)
        for page in markdown.pages()
        for target in markdown.links(page.read_text(encoding="utf-8"))
        if not target.startswith(("http://", "https://", "mailto:"))
    ]


@pytest.mark.parametrize(("page", "target"), relative_links(), ids=lambda value: str(value))
def test_a_relative_link_leads_to_an_existing_file_and_heading(page: Path, target: str) -> None:
    path, _, heading = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    assert file.exists(), f"{page.name} links to {target}, which does not exist"
    if heading and file.suffix == ".md":
        found = markdown.anchors(file.read_text(encoding="utf-8"))
        assert heading in found, f"{page.name} links to {target}: {file.name} has no heading #{heading}"


def linked_from(page: Path) -> set[Path]:
    text = page.read_text(encoding="utf-8")
    return {(page.parent / target.partition("#")[0]).resolve() for target in markdown.links(text)}


def test_the_readme_links_every_page_of_docs() -> None:
    pages = set(markdown.DOCS.glob("*.md"))
    assert pages - linked_from(markdown.ROOT / "README.md") == set()


def test_the_operator_controls_list_every_page_of_docs_operations() -> None:
    operations = markdown.DOCS / "operations.md"
    controls = operations.read_text(encoding="utf-8").split("## Operator controls", 1)[1].split("\n## ", 1)[0]
    listed = {(operations.parent / target.partition("#")[0]).resolve() for target in markdown.links(controls)}
    missing = sorted(page.name for page in (markdown.DOCS / "operations").glob("*.md") if page not in listed)
    assert not missing, f"add a line to docs/operations.md's Operator controls for: {', '.join(missing)}"


def test_the_anchors_are_githubs() -> None:
    assert markdown.anchor("`/metrics`") == "metrics"
    assert markdown.anchor("Scoopboard's effects, once each") == "scoopboards-effects-once-each"
    assert markdown.anchor("Client → server") == "client--server"
