"""The layering rules of the package, checked on its import graph (docs/architecture.md):

- `runtimes/` (the readers) import nothing from `export/` (the writers);
- `export/` imports nothing from `coreml_exec/` (the Linux test executor) nor `parity/`, and
  `parity/` nothing from `export/`: what both ask of an artifact is the judge's;
- `formats/` (the artifact contract both stand on) imports none of export, runtimes,
  coreml_exec, parity, commands;
- `judge/` (what convert and parity both ask of an artifact) imports none of export, parity,
  coreml_exec, commands: it sits below both.

Every import counts: module level or inside a function, `import x` and `from x import y`,
relative imports resolved, and `importlib.import_module("...")` with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "flowers_mobile"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE
#: importer package -> packages it must not import.
RULES = {
    f"{PACKAGE}.runtimes": (f"{PACKAGE}.export",),
    f"{PACKAGE}.export": (f"{PACKAGE}.coreml_exec", f"{PACKAGE}.parity"),
    f"{PACKAGE}.parity": (f"{PACKAGE}.export",),
    f"{PACKAGE}.formats": tuple(f"{PACKAGE}.{p}" for p in ("export", "runtimes", "coreml_exec", "parity", "commands")),
    f"{PACKAGE}.judge": tuple(f"{PACKAGE}.{p}" for p in ("export", "parity", "coreml_exec", "commands")),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(module: str, source: str, *, is_package: bool = False) -> set[str]:
    """Every module name `source` (the text of `module`) imports, anywhere in it.

    `from a import b` yields both `a` and `a.b` (b may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)) and \
                getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module" and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.add(node.args[0].value)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    out = []
    for importer, forbidden in RULES.items():
        if not _within(module, importer):
            continue
        for name in sorted(imported_names(module, source, is_package=is_package)):
            out += [f"{module} imports {name} ({importer} must not import {f})" for f in forbidden if _within(name, f)]
    return out


def test_the_package_keeps_its_layering_rules():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50 and any(p.parent.name == "formats" for p in files)
    found = [v for p in files for v in violations(module_name(p), p.read_text(encoding="utf-8"),
                                                   is_package=p.name == "__init__.py")]
    assert found == []


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
])
def test_the_checker_flags_a_planted_violation(module, source, is_package):
    assert len(violations(module, source, is_package=is_package)) >= 1


@pytest.mark.parametrize(("module", "source"), [
    ("flowers_mobile.runtimes.litert", "from flowers_mobile.formats.tflite import labels_for_tflite\n"),
    ("flowers_mobile.runtimes.coreml", "from ..coreml_exec.values import decode_value\n"),
    ("flowers_mobile.export.coreml", "from .tflite import quiet_tf\nimport flowers_mobile.exporter_notes\n"),
    ("flowers_mobile.export.fidelity", "from flowers_mobile.judge import assess\n"),
    ("flowers_mobile.parity.run", "from flowers_mobile.judge.verdict import judge\n"),
])
def test_the_checker_lets_allowed_imports_through(module, source):
    assert violations(module, source) == []


def test_relative_imports_resolve_from_the_importing_package():
    assert "flowers_mobile.export.metadata" in imported_names("flowers_mobile.runtimes.litert",
                                                              "from ..export import metadata\n")
    assert "flowers_mobile.runtimes.base" in imported_names("flowers_mobile.runtimes", "from .base import x\n",
                                                            is_package=True)
