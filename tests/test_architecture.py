"""The package's layers, read from the source: data flows one way and no module imports itself in a circle.

Layers, lowest first (docs/architecture.md): the contract (``mmsim.records``, ``mmsim.errors``, the compiled
``mmsim._core``), ``data``, ``signals``, ``engine``, ``analysis``, ``cli``. A module may import its own
layer and the layers below it. ``reference`` (the oracle) may import only the contract; the engine may
import it (``simulate(engine="reference")``). The facade ``mmsim/__init__.py`` re-exports the public API
and is imported by nobody inside the package. Every import counts, including those inside functions.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mmsim

PKG_DIR = Path(mmsim.__file__).resolve().parent

RANK = {"contract": 0, "data": 1, "signals": 2, "engine": 3, "analysis": 4, "cli": 5}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if module in ("mmsim", "mmsim.__main__"):
        return "facade"
    sub = parts[1]
    if sub in ("records", "errors", "_core", "_version", "_paths"):
        return "contract"
    return sub


def allowed(src: str, dst: str) -> bool:
    """May a module of layer ``src`` import one of layer ``dst``?"""
    if dst == "facade":
        return False  # nothing inside the package imports the facade (it imports everything)
    if src == "facade":
        return True
    if src == "reference" or dst == "reference":
        return dst == "contract" or src == dst or (src == "engine" and dst == "reference")
    return RANK[dst] <= RANK[src]


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(pkg_dir: Path = PKG_DIR) -> dict[str, set[str]]:
    """module -> the mmsim modules it imports, from the AST of every ``.py`` file under ``pkg_dir``."""
    files = {module_name(p): p for p in sorted(pkg_dir.rglob("*.py"))}
    known = set(files) | {"mmsim._core"}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join(here + ([base] if base else []))
                # `from mmsim.x import y` imports mmsim.x.y when that is a module, else a name of mmsim.x
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for t in targets:
                while t and t not in known:  # `import mmsim.data.store` names the module itself
                    t = t.rpartition(".")[0]
                if t.startswith("mmsim") and t != mod:
                    edges.add(t)
        graph[mod] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def violations(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} ({layer_of(a)}) imports {b} ({layer_of(b)})"
            for a in sorted(graph) for b in sorted(graph[a]) if not allowed(layer_of(a), layer_of(b))]


# ------------------------------------------------------------------------------------------ the package
def test_every_module_is_in_a_layer():
    graph = import_graph()
    assert len(graph) > 30
    for mod in graph:
        assert layer_of(mod) in (*RANK, "reference", "facade"), mod


def test_package_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_data_flows_one_way():
    assert violations(import_graph()) == []


def test_public_api_is_reexported():
    for name in mmsim.__all__:
        assert getattr(mmsim, name) is not None, name


# ------------------------------------------------------------------------------------------ the checks can fail
def test_cycle_check_finds_a_cycle():
    graph = {"mmsim.engine.sim": {"mmsim.reference.simulator"}, "mmsim.reference.simulator": {"mmsim.data.store"},
             "mmsim.data.store": {"mmsim.engine.sim"}, "mmsim.records": set()}
    assert cycles(graph) == [["mmsim.data.store", "mmsim.engine.sim", "mmsim.reference.simulator"]]
    assert cycles({"mmsim.a": {"mmsim.b"}, "mmsim.b": set()}) == []


@pytest.mark.parametrize("src,dst", [
    ("mmsim.engine.sim", "mmsim.cli"),                 # anything -> cli
    ("mmsim.engine.results", "mmsim.analysis.audit"),  # engine -> analysis
    ("mmsim.data.store", "mmsim.engine.sim"),          # data -> engine
    ("mmsim.signals.batch", "mmsim.engine.sim"),       # signals -> engine
    ("mmsim.reference.simulator", "mmsim.engine.sim"),  # reference -> engine logic
    ("mmsim.reference.simulator", "mmsim.data.store"),
    ("mmsim.data.scenario", "mmsim"),                  # anything -> the facade
])
def test_forbidden_direction_is_reported(src, dst):
    assert len(violations({src: {dst}, dst: set()})) == 1


def test_graph_reads_relative_and_function_level_imports(tmp_path):
    pkg = tmp_path / "mmsim"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "records.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("")
    (pkg / "data" / "store.py").write_text("def f():\n    from ..engine import sim\n")
    (pkg / "engine").mkdir()
    (pkg / "engine" / "__init__.py").write_text("")
    (pkg / "engine" / "sim.py").write_text("from mmsim import records as R\nfrom mmsim.data.store import f\n")
    global PKG_DIR
    saved, PKG_DIR = PKG_DIR, pkg
    try:
        graph = import_graph(pkg)
    finally:
        PKG_DIR = saved
    assert graph["mmsim.data.store"] == {"mmsim.engine.sim"}
    assert graph["mmsim.engine.sim"] == {"mmsim.records", "mmsim.data.store"}
    assert cycles(graph) == [["mmsim.data.store", "mmsim.engine.sim"]]
    assert violations(graph) == ["mmsim.data.store (data) imports mmsim.engine.sim (engine)"]


# ------------------------------------------------------------------------------------------ importing from a checkout
REPO = Path(__file__).resolve().parents[1]


def _python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env={**clean, **env}, capture_output=True, text=True)


def test_import_at_the_repository_root_gets_the_installed_package():
    """A notebook or ``python -c`` started in the checkout imports the package with its compiled core."""
    r = _python("import mmsim, mmsim._core; print(mmsim._core.__file__)", REPO)
    assert r.returncode == 0, r.stderr
    assert not (REPO / "mmsim").exists()  # the src/ layout: nothing at the root shadows the installed package


def test_a_bare_source_tree_fails_with_one_line_saying_what_to_do():
    src = REPO / "src"
    if not (src / "mmsim" / "__init__.py").is_file():
        pytest.skip("no source checkout beside the tests")
    if any(p.name.startswith("_core.") and p.suffix in (".so", ".pyd") for p in (src / "mmsim").iterdir()):
        pytest.skip("an inplace build put the compiled core into src/mmsim")
    r = _python("import mmsim", REPO, PYTHONPATH=str(src))
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert "mmsim._core is missing" in last and "python -m pip install ." in last
