"""The tree reads as the pipeline: every package imports only itself and the stages below it, and no
module imports itself back through others (docs/architecture.md draws the same order)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Bottom to top. A module may import modules of its own layer or of any layer before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "hostsize"),
    ("knowledge",),
    ("spec",),
    ("resolve",),
    ("lint",),
    ("render",),
    ("readback",),
    ("engine",),
    ("verify",),
    ("diagnose",),
    ("supply",),
    ("pipeline",),
    ("scale",),
    ("deploy",),
    ("docsgen",),
    ("cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {module_name(p): p for p in (SRC / "dockyard").rglob("*.py")}
    return {name: path for name, path in found.items() if "render.files" not in name}


def imports(path: Path, known: set[str]) -> set[str]:
    """Every dockyard module `path` imports, wherever the import stands (functions, TYPE_CHECKING)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name.startswith("dockyard"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dockyard"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in known else node.module)
    return {name for name in out if name in known and name != "dockyard"}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, set(found)) for name, path in found.items()}


def test_every_package_has_a_layer() -> None:
    missing = sorted({layer(name) for name in modules()} - set(RANK))
    assert not missing, f"add these to LAYERS and to docs/architecture.md: {missing}"


def test_imports_run_down_the_layers() -> None:
    upward = sorted(f"{a} -> {b}" for a, targets in graph().items() for b in targets
                    if RANK[layer(b)] > RANK[layer(a)])
    assert not upward, "imports from a lower stage to a higher one:\n" + "\n".join(upward)


def test_no_import_circles() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"


def test_few_top_level_modules() -> None:
    top = sorted(p.stem for p in (SRC / "dockyard").glob("*.py"))
    assert top == ["__init__", "docsgen", "errors", "hostsize", "pipeline"], top
