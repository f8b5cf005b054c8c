"""Strategy specs: built-ins, file.py:ClassName[:params], entry points; every mistake a ConfigError."""
from __future__ import annotations

import importlib.metadata
import pickle
import textwrap

import pytest

from mmsim.engine import loader
from mmsim.errors import ConfigError
from mmsim.engine.loader import BuiltinSpec, load_strategy, parse_params
from mmsim.engine.strategy import SymmetricQuoter

STRATEGY_FILE = '''
from dataclasses import dataclass
from mmsim.engine.strategy import Quotes

class MyQuoter:
    def __init__(self, half_spread=2, size=1, tag="x", aggressive=False):
        self.half_spread, self.size, self.tag, self.aggressive = half_spread, size, tag, aggressive

    def on_wakeup(self, ctx):
        return None

@dataclass
class DataQuoter:
    k: float = 0.5

    def on_wakeup(self, ctx):
        return None

class Picky:
    def __init__(self, size=1):
        if size <= 0:
            raise ValueError("size must be > 0")

    def on_wakeup(self, ctx):
        return None

class NoWakeup:
    pass
'''


@pytest.fixture
def strat_file(tmp_path):
    p = tmp_path / "my_strats.py"
    p.write_text(textwrap.dedent(STRATEGY_FILE))
    return p


def test_parse_params_types():
    assert parse_params("a=1,b=2.5,c=true,d=False,e=hello,f=-3,g=1e-3,h=nan", "s") == {
        "a": 1, "b": 2.5, "c": True, "d": False, "e": "hello", "f": -3, "g": 1e-3, "h": "nan"}
    assert parse_params("", "s") == {}
    assert parse_params(" a = 1 , b = x ", "s") == {"a": 1, "b": "x"}
    for bad in ("a", "a=", "=1", "a=1,,b=2", "a=1,a=2", "1a=2"):
        with pytest.raises(ConfigError, match="strategy 's'"):
            parse_params(bad, "s")


def test_builtin_symmetric():
    obj, name = load_strategy("symmetric:half_spread=2,size=3")
    assert obj == BuiltinSpec("symmetric", {"half_spread": 2.0, "size": 3, "max_position": 0, "fair": "mid"})
    assert name == "symmetric:half_spread=2.0,size=3,max_position=0,fair=mid"
    obj, _ = load_strategy("symmetric")
    assert obj.params == {"half_spread": 1.0, "size": 1, "max_position": 0, "fair": "mid"}  # defaults filled in
    assert load_strategy(obj)[0] == obj


@pytest.mark.parametrize("spec, text", [
    ("symmetric:width=2", "unknown parameter 'width'"),
    ("symmetric:size=0", "size=0 must be > 0"),
    ("symmetric:size=1.5", "size=1.5 must be int"),
    ("symmetric:half_spread=-1", "must be >= 0"),
    ("symmetric:half_spread=wide", "must be float"),
    ("symmetric:size=true", "must be int"),
    ("symmetric:half_spread", "not name=value"),
])
def test_builtin_bad_params(spec, text):
    with pytest.raises(ConfigError) as e:
        load_strategy(spec)
    assert f"strategy '{spec}'" in str(e.value) and text in str(e.value)


def test_file_class_with_params(strat_file):
    obj, name = load_strategy(f"{strat_file}:MyQuoter:half_spread=3,size=2,tag=abc,aggressive=true")
    assert type(obj).__name__ == "MyQuoter"
    assert (obj.half_spread, obj.size, obj.tag, obj.aggressive) == (3, 2, "abc", True)
    assert name == f"{strat_file}:MyQuoter:half_spread=3,size=2,tag=abc,aggressive=true"
    obj2, _ = load_strategy(f"{strat_file}:MyQuoter")
    assert obj2.half_spread == 2 and type(obj2) is type(obj)  # imported once
    dq, _ = load_strategy(f"{strat_file}:DataQuoter:k=0.25")  # dataclasses need the module registered
    assert dq.k == 0.25
    assert pickle.loads(pickle.dumps(dq)).k == 0.25  # picklable for parallel runs


def test_file_relative_path(strat_file, monkeypatch):
    monkeypatch.chdir(strat_file.parent)
    obj, _ = load_strategy("my_strats.py:MyQuoter:size=5")
    assert obj.size == 5


@pytest.mark.parametrize("suffix, text", [
    (":Missing", "has no class Missing (classes there: DataQuoter, MyQuoter, NoWakeup, Picky)"),
    (":MyQuoter:nope=1", "bad parameters for MyQuoter"),
    (":MyQuoter:size", "not name=value"),
    (":Picky:size=0", "Picky(size=0) failed: ValueError: size must be > 0"),
    (":NoWakeup", "NoWakeup has no on_wakeup(ctx) method"),
    ("", "give the class as"),
    (":", "give the class as"),
    (":1bad", "is not a class name"),
])
def test_file_errors(strat_file, suffix, text):
    spec = f"{strat_file}{suffix}"
    with pytest.raises(ConfigError) as e:
        load_strategy(spec)
    assert f"strategy '{spec}'" in str(e.value) and text in str(e.value), str(e.value)


def test_missing_file_and_broken_file(tmp_path):
    with pytest.raises(ConfigError, match=r"file nowhere/x\.py not found"):
        load_strategy("nowhere/x.py:Q")
    bad = tmp_path / "broken.py"
    bad.write_text("def oops(:\n")
    with pytest.raises(ConfigError, match="importing .*broken.py failed: SyntaxError"):
        load_strategy(f"{bad}:Q")
    boom = tmp_path / "boom.py"
    boom.write_text("raise RuntimeError('kaboom')\n")
    with pytest.raises(ConfigError, match="RuntimeError: kaboom"):
        load_strategy(f"{boom}:Q")


class FakeEP:
    def __init__(self, name, target, value="pkg.mod:Obj"):
        self.name, self.target, self.value = name, target, value

    def load(self):
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


@pytest.fixture
def fake_eps(monkeypatch):
    eps = {"sym_py": FakeEP("sym_py", SymmetricQuoter),
           "broken": FakeEP("broken", ImportError("no module named pkg"))}
    monkeypatch.setattr(loader, "_entry_points", lambda: eps)
    return eps


def test_entry_point(fake_eps):
    obj, name = load_strategy("sym_py:half_spread=2,size=4")
    assert isinstance(obj, SymmetricQuoter) and obj.size == 4 and obj.half_spread2 == 4
    assert name == "sym_py:half_spread=2,size=4"
    with pytest.raises(ConfigError, match="loading entry point broken .*ImportError"):
        load_strategy("broken")
    with pytest.raises(ConfigError, match=r"SymmetricQuoter\(size=0\) failed"):
        load_strategy("sym_py:size=0")


def test_unknown_name_lists_the_known(fake_eps):
    with pytest.raises(ConfigError) as e:
        load_strategy("avellaneda:gamma=0.1")
    msg = str(e.value)
    assert "strategy 'avellaneda:gamma=0.1'" in msg and "unknown strategy 'avellaneda'" in msg
    assert "built-in: " in msg and "symmetric" in msg.split("built-in: ")[1] and "entry points: broken, sym_py" in msg


def test_real_entry_points_are_read():
    # whatever is installed, the group lookup works and returns a name -> entry point mapping
    eps = loader._entry_points()
    assert all(isinstance(ep, importlib.metadata.EntryPoint) for ep in eps.values())


def test_objects_and_classes():
    q = SymmetricQuoter(1, 1)
    assert load_strategy(q) == (q, "SymmetricQuoter")
    obj, name = load_strategy(SymmetricQuoter)
    assert isinstance(obj, SymmetricQuoter) and name == "SymmetricQuoter"
    for bad in (42, None, object()):
        with pytest.raises(ConfigError, match="not a strategy"):
            load_strategy(bad)
    for bad in ("", "   ", "bad name!", ":x=1"):
        with pytest.raises(ConfigError, match="strategy '"):
            load_strategy(bad)


def test_installed_package_entry_point_runs():
    # pyproject.toml registers mmsim.engine.strategy:SymmetricQuoter as entry point 'symmetric_python'
    from mmsim.engine.strategy import SymmetricQuoter

    obj, name = loader.load_strategy("symmetric_python:half_spread=2,size=3")
    assert isinstance(obj, SymmetricQuoter) and obj.half_spread2 == 4 and obj.size == 3
