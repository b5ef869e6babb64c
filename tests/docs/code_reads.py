"""Which environment variables and Django settings the product's code reads, found in its syntax trees.

Environment: ``os.environ.get("X")``, ``os.environ["X"]``, ``os.getenv("X")``, ``env.read_*("X", ...)`` and
``retry.conf.from_environ(os.environ)`` (a ``RETRY_<NAME>`` variable per field of ``RetrySettings``).
Settings: ``settings.X``, ``getattr(settings, "X")`` / ``hasattr`` where ``settings`` is ``django.conf``'s, the
same through a helper that passes its first argument to ``getattr(settings, ...)`` (``setting("X", default)``),
and ``getattr(settings, f"RETRY_{...}")`` (every field of ``RetrySettings``).
"""

import ast
import dataclasses
import functools
from pathlib import Path

from django.conf import global_settings

from retry import conf
from tests.docs.markdown import ROOT

PACKAGES = ("project", "retry", "orders", "consumers")
#: Settings of Channels, which its own documentation describes.
CHANNELS_SETTINGS = {"ASGI_APPLICATION", "CHANNEL_LAYERS"}
#: What an f-string read with this literal prefix stands for.
PREFIXED = {"RETRY_": {f"RETRY_{field.name}" for field in dataclasses.fields(conf.RetrySettings)}}


@dataclasses.dataclass(frozen=True)
class Read:
    name: str
    where: str


@functools.cache
def modules() -> tuple[tuple[Path, ast.Module], ...]:
    """The syntax tree of every module of the product (migrations left out), parsed once."""
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    )


def literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and _is_name(node.value, "os")


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _environment_names(node: ast.AST) -> set[str]:
    """The variables one node of the syntax tree reads from the environment."""
    if isinstance(node, ast.Subscript) and is_os_environ(node.value) and isinstance(node.ctx, ast.Load):
        return {name} if (name := literal(node.slice)) else set()
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.func, ast.Attribute):
        return set()
    func = node.func
    if func.attr == "from_environ" and is_os_environ(node.args[0]):
        return PREFIXED["RETRY_"]
    readers = (
        (func.attr == "get" and is_os_environ(func.value))
        or (func.attr == "getenv" and _is_name(func.value, "os"))
        or (func.attr.startswith("read_") and _is_name(func.value, "env"))
    )
    return {name} if readers and (name := literal(node.args[0])) else set()


@functools.cache
def environment_reads() -> frozenset[Read]:
    reads = set()
    for path, tree in modules():
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            reads |= {Read(name, where) for name in _environment_names(node)}
    return frozenset(reads)


def _binds_django_settings(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "django.conf"
        and any(alias.name == "settings" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )


def _getattr_name(node: ast.AST) -> ast.AST | None:
    """The name argument of ``getattr(settings, name, ...)`` or ``hasattr(settings, name)``."""
    if not isinstance(node, ast.Call) or _call_name(node) not in {"getattr", "hasattr"} or len(node.args) < 2:
        return None
    return node.args[1] if isinstance(node.func, ast.Name) and _is_name(node.args[0], "settings") else None


def _named(node: ast.AST, where: str) -> set[str]:
    name = literal(node)
    if name:
        return {name}
    if isinstance(node, ast.JoinedStr):
        prefix = literal(node.values[0]) if node.values else None
        if prefix in PREFIXED:
            return PREFIXED[prefix]
        raise AssertionError(f"{where} reads a setting named by an f-string the docs test cannot resolve")
    return set()


@functools.cache
def setting_reads() -> frozenset[Read]:
    """Settings the code reads that Django and Channels do not define themselves."""
    trees = [(path, tree) for path, tree in modules() if _binds_django_settings(tree)]
    helpers = set()
    for _, tree in trees:
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef) and function.args.args:
                first = function.args.args[0].arg
                if any(_is_name(_getattr_name(call) or ast.Pass(), first) for call in ast.walk(function)):
                    helpers.add(function.name)
    reads = set()
    for path, tree in modules():
        django_settings = _binds_django_settings(tree)
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            names: set[str] = set()
            named = _getattr_name(node) if django_settings else None
            if django_settings and isinstance(node, ast.Attribute) and _is_name(node.value, "settings"):
                names = {node.attr} if node.attr.isupper() else set()
            elif named is not None:
                names = _named(named, where)
            elif isinstance(node, ast.Call) and _call_name(node) in helpers and node.args:
                names = _named(node.args[0], where)
            reads |= {Read(name, where) for name in names}
    return frozenset(
        read for read in reads if not hasattr(global_settings, read.name) and read.name not in CHANNELS_SETTINGS
    )
