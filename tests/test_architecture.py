"""The seam, checked on the source's syntax tree (docs/architecture.md).

Above ``models/`` no code names a model kind or a concrete model class: it asks the model's
visible space and capabilities. Imports go down the layers and never round in a cycle (imports
inside functions included). No function is longer than 100 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from boltzkit.models.registry import kinds

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "boltzkit"

#: The concrete model classes (and their shared base) that only models/ may name.
MODEL_CLASSES = {"RBM", "RBMBase", "PottsRBM", "PottsModel", "IsingModel", "HybridEBM", "GaussianRBM"}
#: Model attributes that are not part of the interface; a layer above models/ that probes them
#: with hasattr/getattr is asking for a kind in disguise (it should ask for a capability).
UNDECLARED = {"kind", "n_states", "n_hidden", "visible_units", "hidden_units", "annealed",
              "annealing_step", "sample_steps", "centering", "data_statistics", "after_update",
              "penalized_parameters", "flip_energy_differences", "log_partition_exact",
              "couplings", "fields", "gauge", "transform", "data_hidden"}
#: Layers, lowest first: a module may import from its own layer and the layers before it.
LAYERS = [
    {"errors", "checks", "io.atomic", "distributed"},
    {"data"},
    {"models"},
    {"sampling", "io", "synthetic"},
    {"training"},
    {"evaluation", "interpret"},
    {"estimator"},
    {"report"},
    {"cli", "__main__"},
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant):
            ids.add(id(node.body[0].value))
    return ids


def _above_models() -> list[tuple[str, ast.AST]]:
    return [(name, ast.parse(path.read_text())) for name, path in MODULES.items()
            if not name.startswith("boltzkit.models")]


def test_no_model_kind_is_named_above_models():
    names = set(kinds())
    found = []
    for name, tree in _above_models():
        docs = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docs:
                found.append(f"{name}:{node.lineno} {node.value!r}")
    assert found == [], "model kinds named above models/ (ask a capability instead)"


def test_no_concrete_model_class_is_tested_above_models():
    found = []
    for name, tree in _above_models():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("isinstance", "issubclass"):
                target = node.args[1]
                options = target.elts if isinstance(target, ast.Tuple) else [target]
                named = {getattr(t, "id", getattr(t, "attr", None)) for t in options}
                if named & MODEL_CLASSES:
                    found.append(f"{name}:{node.lineno} {sorted(named & MODEL_CLASSES)}")
    assert found == []


def test_no_undeclared_attribute_is_probed_above_models():
    found = []
    for name, tree in _above_models():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("hasattr", "getattr") \
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value in UNDECLARED:
                found.append(f"{name}:{node.lineno} {node.func.id}(..., {node.args[1].value!r})")
    assert found == []


def _imports(name: str, tree: ast.AST) -> set[str]:
    """boltzkit modules imported anywhere in the module (function-level imports included)."""
    out = set()
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in MODULES and t != name)
    return out


GRAPH = {name: _imports(name, ast.parse(path.read_text())) for name, path in MODULES.items()}


def test_no_import_cycles():
    # Tarjan's strongly connected components; any component of two or more modules is a cycle
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert cycles == []


def _layer(name: str) -> int:
    """The layer of a module: its most specific entry in LAYERS ("io.atomic" before "io")."""
    parts = name.split(".")[1:]
    for depth in range(len(parts), 0, -1):
        key = ".".join(parts[:depth])
        for k, layer in enumerate(LAYERS):
            if key in layer:
                return k
    return -1  # the package itself (boltzkit/__init__.py): lazy access to the API only


@pytest.mark.parametrize("name", [n for n in MODULES if _layer(n) >= 0])
def test_imports_go_down_the_layers(name):
    upward = [t for t in GRAPH[name] if _layer(t) > _layer(name)]
    assert upward == [], f"{name} imports from a layer above it"


def test_no_function_is_over_100_lines():
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 100:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert long == []


def test_docstrings_cite_the_repository_own_methods_document():
    """Source, tests and benchmarks cite docs/methods.md, never the METHODS file outside the
    repository."""
    root = PACKAGE.parents[1]
    files = [*PACKAGE.rglob("*.py"), *(root / "tests").rglob("*.py"), *(root / "benchmarks").glob("*.py")]
    outside = [str(p.relative_to(root)) for p in files if p != Path(__file__).resolve()
               and "METHODS.md" in p.read_text().replace("docs/methods.md", "")]
    assert outside == [], "cite docs/methods.md, not a file outside the repository"


def test_the_cli_answers_help_without_importing_torch():
    """`boltzkit --help` and argument errors need the registry, not the models: torch (about a
    second of CPU) is imported by the commands that run."""
    import subprocess
    import sys

    code = "import sys, boltzkit.cli.main; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
