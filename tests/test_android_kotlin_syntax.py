"""Every Kotlin source and Gradle Kotlin script of the Android app parses with tree-sitter-kotlin.

No Android SDK here, so the app cannot be compiled; a syntax error still fails the build here.
The pure-Kotlin core module is also compiled and tested by tools/test_kotlin.sh.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tree_sitter = pytest.importorskip("tree_sitter")
tree_sitter_kotlin = pytest.importorskip("tree_sitter_kotlin")

APP = Path(__file__).resolve().parents[1] / "android_app"
KOTLIN_FILES = sorted(p for p in APP.rglob("*") if p.suffix in (".kt", ".kts") and "build" not in p.parts)
CORE_MAIN = APP / "core/src/main/kotlin"


def _parser():
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_kotlin.language()))


def syntax_errors(source: bytes) -> list[str]:
    """'line:col: ERROR|MISSING <text>' for every error node tree-sitter-kotlin finds."""
    tree = _parser().parse(source)
    found: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            kind = "MISSING" if node.is_missing else "ERROR"
            text = source[node.start_byte:node.end_byte][:40].decode("utf-8", "replace")
            found.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1}: {kind} {node.type} {text!r}")
        elif node.has_error:
            stack.extend(node.children)
    return sorted(found)


def test_the_app_has_kotlin_sources_to_check():
    names = {p.name for p in KOTLIN_FILES}
    assert {"MainActivity.kt", "ClassifierViewModel.kt", "FlowerClassifier.kt", "settings.gradle.kts",
            "build.gradle.kts", "ModelManifest.kt", "ScoreSmoother.kt", "SharedVectorsTest.kt"} <= names


@pytest.mark.parametrize("path", KOTLIN_FILES, ids=lambda p: str(p.relative_to(APP)))
def test_kotlin_file_parses(path):
    errors = syntax_errors(path.read_bytes())
    assert not errors, f"{path.relative_to(APP)}: tree-sitter-kotlin found syntax errors:\n" + "\n".join(errors)


@pytest.mark.parametrize("snippet", [
    "class A { fun f( { }",                       # unbalanced parenthesis
    "fun f() = when (x) { 1 -> }",                # when branch without a body
    "val x: = 3",                                  # missing type
    "object O {\n  fun g() {\n    val y = (1 + 2\n  }\n}",  # unclosed group in a body
])
def test_checker_detects_broken_kotlin(snippet):
    assert syntax_errors(snippet.encode()), f"tree-sitter-kotlin accepted broken code: {snippet!r}"


def test_checker_accepts_valid_kotlin():
    ok = b"package a\n\nsealed class P { object W : P() }\nfun f(x: Int): String = when (x) { 1 -> \"one\"; else -> \"many\" }\n"
    assert syntax_errors(ok) == []


# Kotlin that Debian's kotlinc 1.3 rejects: caught here in a second, before the slow compile.
_NOT_KOTLIN_13 = {
    r"\bfun\s+interface\b": "fun interface (Kotlin 1.4)",
    r"\bsealed\s+interface\b": "sealed interface (Kotlin 1.5)",
    r"\bdata\s+object\b": "data object (Kotlin 1.9)",
    r"\bvalue\s+class\b": "value class (Kotlin 1.5)",
    r"\bbuildList\b|\bbuildMap\b|\bbuildSet\b": "buildList/buildMap (Kotlin 1.6)",
    r"\.(lowercase|uppercase)\(": "lowercase()/uppercase() (Kotlin 1.5)",
    r"\b(maxOrNull|minOrNull|maxByOrNull|minByOrNull)\b": "*OrNull aggregates (Kotlin 1.4)",
    r"\.code\b": "Char.code (Kotlin 1.5)",
    r"\bdigitToInt\b": "digitToInt (Kotlin 1.5)",
    r"\bkotlin\.collections\.ArrayDeque\b|(?<!java\.util\.)\bArrayDeque\s*<": "kotlin.collections.ArrayDeque (Kotlin 1.4)",
    r":\s*Result<": "kotlin.Result as a return type",
    r",\s*\n\s*[)\]>]": "trailing comma (Kotlin 1.4)",
}


@pytest.mark.parametrize("path", sorted(CORE_MAIN.rglob("*.kt")) + sorted((APP / "core/src/test").rglob("*.kt")),
                         ids=lambda p: p.name)
def test_core_module_stays_kotlin_13_and_android_free(path):
    text = path.read_text(encoding="utf-8")
    # Gson is the one library (Debian's gson.jar here, Maven in Gradle); nothing Android.
    imports = re.findall(r"^import\s+([\w.]+)", text, re.M)
    foreign = [i for i in imports if not i.startswith(("java.", "kotlin.", "org.junit.", "org.flowersmobile.core.",
                                                         "com.google.gson."))]
    assert not foreign, f"{path.name} imports {foreign}; the core module is plain Kotlin + JDK + Gson"
    for pattern, what in _NOT_KOTLIN_13.items():
        m = re.search(pattern, text)
        assert not m, f"{path.name}: {what} at {text[:m.start()].count(chr(10)) + 1}; kotlinc 1.3 rejects it"
