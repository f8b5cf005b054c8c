"""src/mmsim/_core.pyi names exactly what the compiled module exports (classes, their members, functions)."""
import ast
from pathlib import Path

import mmsim
from mmsim import _core


def stub_names():
    """Top-level names, and each class's members including those it inherits from its stub base classes."""
    tree = ast.parse((Path(mmsim.__file__).parent / "_core.pyi").read_text())
    top, own, bases = set(), {}, {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            own[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} | {
                n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
            bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
        elif isinstance(node, ast.FunctionDef):
            top.add(node.name)

    def members(cls):
        out = set(own.get(cls, ()))
        for b in bases.get(cls, ()):
            out |= members(b) - {"__init__"}
        return out

    return top, {cls: members(cls) for cls in own}


def test_stub_matches_module():
    top, members = stub_names()
    exported = {n for n in dir(_core) if not n.startswith("_")}
    assert top == exported
    for cls, names in members.items():
        actual = {n for n in dir(getattr(_core, cls)) if not n.startswith("_")}
        assert names - {"__init__"} == actual, cls
