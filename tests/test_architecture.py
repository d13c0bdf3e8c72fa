"""The layout's rules, checked on the source (issue 13): the import graph of the library has no
cycle (lazy, function-level imports included), imports point from ``ui``/``cli`` to the library
only, the library never imports Streamlit, and only ``cli``/``ui`` print."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "ecgreview"
SHELLS = ("ecgreview.ui", "ecgreview.cli", "ecgreview.__main__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(path): ast.parse(path.read_text("utf-8"), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports, anywhere in its body (lazy imports too)."""
    found: set[str] = set()
    is_package = (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists() if "." in name else True
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target != "ecgreview":
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, tree, set(modules)) for name, tree in modules.items()}


def _is_package_init(name: str) -> bool:
    return (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists()


def test_the_library_has_no_import_cycle(graph: dict[str, set[str]]) -> None:
    # A package's __init__ importing its own submodules (the CLI registering its commands) is not a cycle.
    edges = {name: {target for target in targets if not (_is_package_init(name) and target.startswith(name + "."))
                    and not (_is_package_init(target) and name.startswith(target + "."))}
             for name, targets in graph.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target):] + [target] if target in trail else [node, target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_imports_point_from_the_shells_to_the_library_only(graph: dict[str, set[str]]) -> None:
    wrong = sorted(f"{name} imports {target}" for name, targets in graph.items() if not name.startswith(SHELLS)
                   for target in targets if target.startswith(SHELLS))
    assert not wrong, wrong


def test_the_library_never_imports_streamlit_nor_prints() -> None:
    problems = []
    for name, tree in _modules().items():
        if name.startswith(SHELLS):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                problems += [f"{name}:{node.lineno} imports {module}" for module in modules
                             if module.split(".")[0] == "streamlit"]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "input"):
                problems.append(f"{name}:{node.lineno} calls {node.func.id}()")
            if isinstance(node, ast.Attribute) and node.attr == "argv" and getattr(node.value, "id", "") == "sys":
                problems.append(f"{name}:{node.lineno} reads sys.argv")
    assert not problems, problems


def test_the_checker_sees_a_cycle(tmp_path: Path) -> None:
    """The cycle check itself can fail: two modules importing each other are found."""
    first = ast.parse("from ecgreview.b import x\n")
    second = ast.parse("def f():\n    from ecgreview.a import y\n")
    known = {"ecgreview.a", "ecgreview.b"}
    assert _imports("ecgreview.a", first, known) == {"ecgreview.b"}
    assert _imports("ecgreview.b", second, known) == {"ecgreview.a"}
