"""The process boundary, read from the code's imports (parsed with ast, never grepped).

The folders say which process runs a module: ``_encode`` the caller's thread, ``_app`` the
application process off it, ``_listener`` the listener's interpreter, ``_ipc`` what both
share. The listener is what loads requests, urllib3 and tenacity, so an application process
must never import it; ``test_lifecycle`` checks the same at run time in a fresh interpreter
that builds a handler and logs.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "astralog_logging"
DELIVERY_STACK = ("requests", "urllib3", "tenacity")
# The one exception: where no process can be started, _owner runs the listener as threads
# of the application (Link.start_inline), importing it only then, inside that method.
FALLBACK = {("_app/_owner.py", "astralog_logging._listener"),
            ("_app/_owner.py", "astralog_logging._listener._main")}


class Import(NamedTuple):
    source: str  # the importing file, relative to the package
    target: str  # the absolute module imported (or the package a name is taken from)
    lazy: bool  # inside a function: runs only when that function does


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[Import]:
    """Every import in one file, relative ones resolved, with whether it runs at import."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    source = str(path.relative_to(PACKAGE))

    def walk(node: ast.AST, lazy: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                yield from (Import(source, alias.name, lazy) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                yield Import(source, module, lazy)
                # ``from . import _x`` imports the module _x, not a name of the package
                yield from (Import(source, f"{module}.{alias.name}", lazy)
                            for alias in child.names if _is_module(f"{module}.{alias.name}"))
            yield from walk(child, inner)

    yield from walk(ast.parse(path.read_text(), str(path)), False)


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative).is_dir()


def _files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (PACKAGE / folder).rglob("*.py"))


def _under(target: str, folder: str) -> bool:
    prefix = f"astralog_logging.{folder}"
    return target == prefix or target.startswith(prefix + ".")


def test_the_parser_sees_the_known_imports() -> None:
    """The resolver reads relative imports right (else every other test here passes vacuously)."""
    found = set(imports(PACKAGE / "_app" / "_owner.py"))
    assert Import("_app/_owner.py", "astralog_logging._ipc._shared", False) in found
    assert Import("_app/_owner.py", "astralog_logging._listener._main", True) in found
    assert _files("_app") and _files("_listener") and _files("_ipc")


@pytest.mark.parametrize("folder", ["_encode", "_app"])
def test_the_application_side_never_imports_the_listener(folder: str) -> None:
    """Nothing under _encode/ or _app/ imports _listener/, but for the documented fallback,
    and that one only inside a function."""
    crossing = [i for i in (i for f in _files(folder) for i in imports(f))
                if _under(i.target, "_listener")]
    assert all(i.lazy for i in crossing), crossing
    assert {(i.source, i.target) for i in crossing} <= FALLBACK


def test_the_shared_contract_depends_on_neither_side() -> None:
    """_ipc/ (frames, counters, attach address) imports neither _app/ nor _listener/."""
    crossing = [i for f in _files("_ipc") for i in imports(f)
                if _under(i.target, "_app") or _under(i.target, "_listener")]
    assert crossing == []


def test_the_listener_never_imports_the_application_side() -> None:
    """_listener/ imports nothing of _app/: the listener is a fresh interpreter."""
    assert [i for f in _files("_listener") for i in imports(f) if _under(i.target, "_app")] == []


def test_the_delivery_stack_is_imported_only_by_the_listener_and_the_cli() -> None:
    """requests, urllib3 and tenacity are imported under _listener/ (and by the commands of
    _cli/, separate processes) and nowhere else."""
    outside = [i for f in sorted(PACKAGE.rglob("*.py")) for i in imports(f)
               if i.target.split(".")[0] in DELIVERY_STACK
               and not i.source.startswith(("_listener/", "_cli/"))]
    assert outside == []


def test_a_handler_import_reaches_no_listener_module() -> None:
    """Following every import that runs when the handler module loads (transitively, lazy
    ones excluded) reaches no module under _listener/."""
    seen: set[str] = set()
    todo = ["astralog_logging", "astralog_logging.handler"]
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith("astralog_logging"):
            continue
        seen.add(name)
        relative = Path(*name.split(".")[1:]) if "." in name else Path()
        path = (PACKAGE / relative / "__init__.py") if (PACKAGE / relative).is_dir() \
            else (PACKAGE / relative).with_suffix(".py")
        todo += [i.target for i in imports(path) if not i.lazy and _is_module(i.target)]
        todo += [".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)]
    assert "astralog_logging._app._owner" in seen
    assert [name for name in seen if _under(name, "_listener")] == []


def test_the_listener_is_handed_the_directory_that_holds_the_package() -> None:
    """The listener's interpreter gets the package's parent first on its path, not the
    package's own folder (where cli.py or flask.py would shadow top-level modules)."""
    from astralog_logging._app import _owner

    assert os.path.isfile(os.path.join(_owner._PACKAGE_PARENT, "astralog_logging", "__init__.py"))


def test_only_the_ledger_writes_the_shared_counters() -> None:
    """No module but _ipc/_ledger.py calls SharedStats.bump or writes a Counter: each
    shared word keeps its one writer, and each loss its one door."""
    writers = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            counter_arg = any(isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name)
                              and a.value.id == "Counter" for a in node.args)
            if node.func.attr == "bump" or (node.func.attr == "write" and counter_arg):
                writers.add(str(path.relative_to(PACKAGE)))
    assert writers == {"_ipc/_ledger.py"}
