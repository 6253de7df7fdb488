"""Import graph of our packages: no cycle between modules, no import from a lower layer upward."""

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "schema", "domain", "delivery", "templates")

# Which top-level package may import which (itself always allowed): api -> schema -> domain <-
# delivery. schema may also call delivery (queueing and rendering messages, distributions),
# never the reverse; delivery and domain never import schema or api; templates is a leaf.
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "api": {"schema", "domain", "delivery", "templates"},
    "schema": {"domain", "delivery", "templates"},
    "delivery": {"domain", "templates"},
    "domain": {"templates"},
    "templates": set(),
}

Graph = Mapping[str, Iterable[str]]


def module_name(path: Path) -> str:
    """The dotted name of a source file under ROOT (a package's __init__ is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    """Every module of our packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def resolve(target: str, modules: Mapping[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of our modules, if any."""
    parts = target.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(name: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """Our modules that a module imports anywhere: top level, inside functions, TYPE_CHECKING."""
    is_package = path.name == "__init__.py"
    package_parts = name.split(".") if is_package else name.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            targets.add(base)
            # `from package import module` imports the submodule.
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    resolved = {resolve(target, modules) for target in targets}
    return {module for module in resolved if module is not None and module != name}


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def strongly_connected_components(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative; returns only components that form a cycle."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.get(root, ())))]
        index[root] = lowlink[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            if successors:
                successor = successors.pop(0)
                if successor not in index:
                    index[successor] = lowlink[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, sorted(graph.get(successor, ()))))
                elif successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    cycles.append(sorted(component))
    return cycles


def upward_imports(graph: Graph, allowed: Mapping[str, set[str]]) -> list[str]:
    """Edges whose target's top-level package the source's package may not import."""
    found = []
    for source, targets in sorted(graph.items()):
        layer = source.split(".")[0]
        for target in sorted(targets):
            target_layer = target.split(".")[0]
            if target_layer != layer and target_layer not in allowed[layer]:
                found.append(f"{source} -> {target}")
    return found


def test_checker_finds_a_planted_cycle() -> None:
    graph = {
        "domain.a": {"domain.b"},
        "domain.b": {"domain.c"},
        "domain.c": {"domain.a"},
        "domain.d": {"domain.a"},
        "domain.e": {"domain.e"},
    }
    assert strongly_connected_components(graph) == [
        ["domain.a", "domain.b", "domain.c"],
        ["domain.e"],
    ]
    assert strongly_connected_components({"domain.a": {"domain.b"}, "domain.b": set()}) == []


def test_checker_finds_a_planted_upward_import() -> None:
    graph = {
        "delivery.x": {"api.settings", "domain.y"},
        "domain.y": {"schema.z"},
        "schema.z": set(),
    }
    assert upward_imports(graph, ALLOWED_IMPORTS) == [
        "delivery.x -> api.settings",
        "domain.y -> schema.z",
    ]


def test_checker_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from api import settings\n"
        "def later() -> None:\n    import domain.codes\n"
        "from . import events\n"
    )
    modules = {"api.settings": source, "domain.codes": source, "domain.events": source}
    assert imports_of("domain.probe", source, modules) == {
        "api.settings",
        "domain.codes",
        "domain.events",
    }


def test_no_import_cycle_between_our_modules() -> None:
    cycles = strongly_connected_components(import_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_import_from_a_lower_layer_upward() -> None:
    upward = upward_imports(import_graph(), ALLOWED_IMPORTS)
    assert upward == [], "upward imports:\n" + "\n".join(upward)
