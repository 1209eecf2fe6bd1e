"""The layering of the package, checked on its import graph (docs/architecture.md states exactly this):

1. Every top-level module and subpackage belongs to one layer of `LAYERS` (top first), and a
   module imports only from its own layer or the layers below it.
2. Three imports that the order would allow are banned (`BANNED`): `export/` imports nothing from
   `coreml_exec/` (the Linux test executor), `parity/` nothing from `export/` (what both ask of an
   artifact is the judge's), `judge/` nothing from `coreml_exec/`.
3. No module imports another in a loop, and no top-level module or subpackage does either: the
   module graph and the graph between them are both acyclic.

Every import counts: module level or inside a function (TYPE_CHECKING too), `import x` and
`from x import y`, relative imports resolved, and `importlib.import_module("...")` with a literal
name. Importing `a.b.c` also runs the `__init__` of `a` and `a.b`, so those count as imported too,
except the importer's own enclosing packages (always initialised before it runs).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "flowers_mobile"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE
ARCHITECTURE_MD = SRC.parents[1] / "docs" / "architecture.md"
#: (layer, its top-level modules and subpackages), the top layer first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("command line", ("cli", "commands")),
    ("studies", ("compare",)),
    ("checks", ("parity", "predict", "benchmark", "benchmark_worker", "armcost")),
    ("training and export", ("training", "export")),
    ("judge", ("judge",)),
    ("runtimes", ("runtimes",)),
    ("executor", ("coreml_exec",)),
    ("data and model", ("data", "model", "evaluation")),
    ("formats", ("formats",)),
    ("catalogues and config", ("config", "variants", "runtime_registry", "backbones")),
    ("base", ("errors", "fsutil", "images", "labels", "keras_file", "progress", "tf_quiet", "_coremltools",
              "_log_filter")),
)
#: importer -> what it must not import although the layer order would allow it.
BANNED = {
    "export": ("coreml_exec",),
    "parity": ("export",),
    "judge": ("coreml_exec",),
}
LAYER_OF = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(module: str, source: str, *, is_package: bool = False) -> Iterator[tuple[str, str | None]]:
    """(module, member) for every import in `source` (the text of `module`): `import a.b` and
    `import_module("a.b")` give ("a.b", None), `from a import b` gives ("a", "b")."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            yield from ((base, alias.name if alias.name != "*" else None) for alias in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)) and \
                getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module" and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            yield node.args[0].value, None


def imported_names(module: str, source: str, *, is_package: bool = False) -> set[str]:
    """Every module name `source` (the text of `module`) imports, anywhere in it.

    `from a import b` yields both `a` and `a.b` (b may be a submodule)."""
    names: set[str] = set()
    for base, member in _imports(module, source, is_package=is_package):
        names.add(base)
        if member is not None:
            names.add(f"{base}.{member}")
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def unit_of(module: str) -> str:
    """The top-level module or subpackage `module` belongs to ("flowers_mobile.export.tflite": "export")."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Imports of `module` that go up the layers, or that `BANNED` forbids."""
    unit = unit_of(module)
    out = []
    for name in sorted(imported_names(module, source, is_package=is_package)):
        if not _within(name, PACKAGE) or name == PACKAGE or unit_of(name) == unit:
            continue
        target = unit_of(name)
        if target in BANNED.get(unit, ()):
            out.append(f"{module} imports {name} ({unit} must not import {target})")
        elif target in LAYER_OF and unit in LAYER_OF and LAYER_OF[target] < LAYER_OF[unit]:
            out.append(f"{module} imports {name} ({target} is in the {LAYERS[LAYER_OF[target]][0]} layer, "
                       f"above {unit}'s {LAYERS[LAYER_OF[unit]][0]} layer)")
    return out


def _files() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def module_graph(files: dict[str, str], packages: set[str]) -> dict[str, set[str]]:
    """module -> the package modules it imports (`files`: module -> source; `packages`: those that
    are packages). A name imported from a module is that module; `from p import m` with `p.m` a
    module is `p.m`; the packages above each target count too, but not the importer's own (a name
    taken from the importer's own package, which its `__init__` re-exports, does count)."""

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, source in files.items():
        own = {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}
        targets: set[str] = set()
        for base, member in _imports(module, source, is_package=module in packages):
            full = f"{base}.{member}" if member else base
            target = resolve(full) if full in files or member is None else resolve(base)
            if target is None:
                continue
            targets.add(target)
            targets.update(p for i in range(1, target.count(".") + 1) if (p := target.rsplit(".", i)[0]) not in own)
        graph[module] = {t for t in targets if t != module and _within(t, PACKAGE)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (each a set of nodes that import
    one another in a loop), sorted; Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    units: dict[str, set[str]] = {}
    for module, targets in graph.items():
        units.setdefault(unit_of(module), set()).update(unit_of(t) for t in targets if unit_of(t) != unit_of(module))
    return units


def test_the_package_keeps_its_layering_rules():
    files = _files()
    assert len(files) > 50 and "flowers_mobile.formats" in files
    found = [v for m, p in files.items() for v in violations(m, p.read_text(encoding="utf-8"),
                                                               is_package=p.name == "__init__.py")]
    assert found == []


def test_every_module_has_a_layer():
    units = {unit_of(m) for m in _files()} - {"__init__"}
    assert units == set(LAYER_OF), "place a new module in LAYERS (and in docs/architecture.md)"
    assert len(LAYER_OF) == sum(len(u) for _, u in LAYERS)  # none in two layers


def test_no_module_imports_another_in_a_loop():
    files = _files()
    graph = module_graph({m: p.read_text(encoding="utf-8") for m, p in files.items()},
                         {m for m, p in files.items() if p.name == "__init__.py"})
    assert cycles(graph) == []
    assert cycles(unit_graph(graph)) == []


def test_the_cycle_finder_sees_loops_through_functions_and_packages():
    files = {
        "flowers_mobile.a": "def f():\n    from flowers_mobile.b import x\n",
        "flowers_mobile.b": "import flowers_mobile.c.d\n",
        "flowers_mobile.c": "from flowers_mobile.c.e import y\n",  # the package's __init__ runs first
        "flowers_mobile.c.d": "",
        "flowers_mobile.c.e": "from .. import a\n",
        "flowers_mobile.f": "from flowers_mobile.f.g import z\n",
        "flowers_mobile.f.g": "from flowers_mobile.f import h\n",  # its own package: not a loop
        "flowers_mobile.f.h": "",
    }
    graph = module_graph(files, {"flowers_mobile.c", "flowers_mobile.f"})
    assert cycles(graph) == [["flowers_mobile.a", "flowers_mobile.b", "flowers_mobile.c", "flowers_mobile.c.e"]]
    assert cycles(unit_graph(graph)) == [["a", "b", "c"]]
    files["flowers_mobile.f.g"] = "from flowers_mobile.f import Z\n"  # a name its package re-exports: a loop
    assert cycles(module_graph(files, {"flowers_mobile.c", "flowers_mobile.f"}))[-1] == \
        ["flowers_mobile.f", "flowers_mobile.f.g"]


def test_architecture_md_lists_the_layers_the_test_enforces():
    """Its layer table, top first: one row per layer, the modules of that row in backticks."""
    rows = []
    in_table = False
    for line in ARCHITECTURE_MD.read_text(encoding="utf-8").splitlines():
        if line.startswith("| layer | modules |"):
            in_table = True
        elif in_table and line.startswith("|") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append((cells[0], tuple(re.sub(r"(\.py|/)$", "", m) for m in re.findall(r"`([^`]+)`", cells[1]))))
        elif in_table and not line.startswith("|"):
            break
    assert rows == list(LAYERS)


@pytest.mark.parametrize(("module", "source", "is_package"), [
    ("flowers_mobile.runtimes.litert", "import flowers_mobile.export.metadata\n", False),
    ("flowers_mobile.runtimes.litert", "def f():\n    from flowers_mobile.export import metadata\n", False),
    ("flowers_mobile.runtimes.litert", "def f():\n    from ..export.metadata import embedded_labels\n", False),
    ("flowers_mobile.runtimes", "from ..export import tflite\n", True),
    ("flowers_mobile.runtimes.litert", "from .. import export\n", False),
    ("flowers_mobile.export.coreml", "class C:\n    def m(self):\n        import flowers_mobile.coreml_exec.values\n", False),
    ("flowers_mobile.export.coreml", "import importlib\nimportlib.import_module('flowers_mobile.coreml_exec')\n", False),
    ("flowers_mobile.formats.manifest", "from flowers_mobile.parity.result import ParityReport\n", False),
    ("flowers_mobile.formats.tflite", "from ..commands import common\n", False),
    ("flowers_mobile.judge.verdict", "def f():\n    from flowers_mobile.parity.result import ParityReport\n", False),
    ("flowers_mobile.judge", "from ..export import fidelity\n", True),
    ("flowers_mobile.parity.run", "from flowers_mobile.export import fidelity\n", False),
    ("flowers_mobile.export.coreml_fidelity", "def f():\n    from flowers_mobile.parity.verdict import judge\n", False),
    ("flowers_mobile.judge.figures", "from flowers_mobile.coreml_exec import CoreMLExecutor\n", False),
    ("flowers_mobile.data.pipeline", "def f():\n    from flowers_mobile.training.determinism import x\n", False),
    ("flowers_mobile.variants", "from flowers_mobile.runtimes.base import runtime_available\n", False),
    ("flowers_mobile.runtime_registry", "from flowers_mobile.runtimes import base\n", False),
    ("flowers_mobile.predict", "from flowers_mobile.commands import common\n", False),
])
def test_the_checker_flags_a_planted_violation(module, source, is_package):
    assert len(violations(module, source, is_package=is_package)) >= 1


@pytest.mark.parametrize(("module", "source"), [
    ("flowers_mobile.runtimes.litert", "from flowers_mobile.formats.tflite import labels_for_tflite\n"),
    ("flowers_mobile.runtimes.coreml", "from ..coreml_exec.values import decode_value\n"),
    ("flowers_mobile.export.coreml", "from .tflite import quiet_tf\nimport flowers_mobile.exporter_notes\n"),
    ("flowers_mobile.export.fidelity", "from flowers_mobile.judge import assess\n"),
    ("flowers_mobile.parity.run", "from flowers_mobile.judge.verdict import judge\n"),
    ("flowers_mobile.predict", "from flowers_mobile.parity.plan import default_runtime\n"),
    ("flowers_mobile.variants", "from flowers_mobile import runtime_registry\n"),
])
def test_the_checker_lets_allowed_imports_through(module, source):
    assert violations(module, source) == []


def test_relative_imports_resolve_from_the_importing_package():
    assert "flowers_mobile.export.metadata" in imported_names("flowers_mobile.runtimes.litert",
                                                              "from ..export import metadata\n")
    assert "flowers_mobile.runtimes.base" in imported_names("flowers_mobile.runtimes", "from .base import x\n",
                                                            is_package=True)
