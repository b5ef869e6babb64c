"""Reading the project's Markdown: its tables, fenced code blocks, links and headings' anchors."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def pages() -> list[Path]:
    """README.md and every page of docs/ (docs/operations/ included)."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def tables(text: str) -> list[list[list[str]]]:
    """Every table of the page, as rows of cells; the first row is the header, the |---| line is left out."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def table_under(text: str, header: list[str]) -> list[list[str]]:
    """The rows (header left out) of the one table whose header is ``header``."""
    [table] = [table for table in tables(text) if table[0] == header]
    return table[1:]


def code_blocks(text: str, language: str) -> list[str]:
    """The fenced blocks of that language, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.S | re.M)


def backticked(cell: str) -> list[str]:
    """The `code` spans of a table cell."""
    return re.findall(r"`([^`]+)`", cell)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of every heading of the page (code blocks skipped), numbered when repeated as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    body = re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6} (.+)$", body, flags=re.M):
        name = anchor(heading)
        found.add(name if name not in seen else f"{name}-{seen[name]}")
        seen[name] = seen.get(name, 0) + 1
    return found


def links(text: str) -> list[str]:
    """The targets of every inline link and image of the page, code blocks, code spans and comments skipped."""
    body = re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)
    body = re.sub(r"`[^`\n]*`", "", body)
    return re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", body)
