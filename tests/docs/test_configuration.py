"""docs/configuration.md has one table of every environment variable and setting, and it matches the code."""

from dataclasses import fields

from retry import conf
from tests.docs import code_reads, markdown

HEADER = ["name", "read from", "default", "what it does"]
SOURCES = {"environment": {"environment"}, "settings": {"settings"}, "both": {"environment", "settings"}}


def documented() -> dict[str, set[str]]:
    """Each name of the table, with where it is read from."""
    rows = markdown.table_under(markdown.read("docs/configuration.md"), HEADER)
    names: dict[str, set[str]] = {}
    for cells in rows:
        assert cells[1] in SOURCES, f"{cells[0]}: 'read from' is one of {', '.join(SOURCES)}, not {cells[1]!r}"
        for name in markdown.backticked(cells[0]):
            assert name not in names, f"{name} has two rows"
            names[name] = SOURCES[cells[1]]
    return names


def drift(kind: str, reads: frozenset[code_reads.Read]) -> str:
    """What the table lacks and what it has too many of, for one kind of name ('' when they agree)."""
    rows = documented()
    table = {name for name, sources in rows.items() if kind in sources}
    found: dict[str, str] = {}
    for read in sorted(reads, key=lambda read: read.where):
        found.setdefault(read.name, read.where)
    missing = sorted(set(found) - table)
    extra = sorted(table - set(found))
    problems = [
        f"the row of {name} must say 'both': the code reads it from the {kind} too (at {found[name]})"
        if name in rows
        else f"add a row (read from: {kind}) for {name} (read at {found[name]})"
        for name in missing
    ]
    if extra:
        problems.append(f"the code reads no {kind} " + ", ".join(extra) + ": fix their rows' 'read from' or drop them")
    return "; ".join(problems)


def test_every_environment_variable_the_code_reads_has_a_row_and_no_other_does() -> None:
    assert not (problems := drift("environment", code_reads.environment_reads())), problems


def test_every_setting_of_the_project_the_code_reads_has_a_row_and_no_other_does() -> None:
    assert not (problems := drift("settings", code_reads.setting_reads())), problems


def test_the_scanner_finds_each_kind_of_read() -> None:
    """The scan sees reads through os.environ, env.read_*, from_environ, getattr and a settings helper."""
    environment = {read.name for read in code_reads.environment_reads()}
    settings = {read.name for read in code_reads.setting_reads()}
    assert {"SECRET_KEY", "DEBUG", "RETRY_LEASE", "WEBHOOK_SECRETS"} <= environment
    assert {"RETRY_LEASE", "WEBHOOK_TIMEOUT", "BOARD_RATE_LIMIT", "ORDER_RATE_LIMIT_WINDOW"} <= settings
    assert "SESSION_ENGINE" not in settings  # Django's own


def test_a_retry_default_in_the_table_is_the_code_default() -> None:
    table = markdown.table_under(markdown.read("docs/configuration.md"), HEADER)
    rows = {cells[0].strip("`"): cells[2].strip("`") for cells in table}
    for field in fields(conf.RetrySettings):
        default = rows[f"RETRY_{field.name}"]
        if default.replace(".", "").isdigit():
            assert float(default) == field.default, f"RETRY_{field.name}: the code's default is {field.default}"
