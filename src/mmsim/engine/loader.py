"""Strategy specs: a built-in name, a ``file.py:ClassName``, or an entry point in ``mmsim.strategies``.

::

    symmetric:half_spread=2,size=1                 built-in -> BuiltinSpec (the engine runs it natively)
    path/to/file.py:ClassName[:k=v,k2=v2]          the class, constructed with the parameters
    NAME[:k=v,...]                                 entry point NAME of group "mmsim.strategies"

Parameter values are read as int, float, bool (true/false) or, failing those, str.
Every mistake raises :class:`mmsim.errors.ConfigError` naming the spec.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmsim.errors import ConfigError

__all__ = ["BuiltinSpec", "BUILTINS", "ORACLES", "load_strategy", "parse_params", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "mmsim.strategies"


@dataclass(frozen=True)
class BuiltinSpec:
    """A built-in native strategy and its parameters (defaults filled in); the engine glue builds it."""

    name: str
    params: dict = field(default_factory=dict)

    @property
    def spec(self) -> str:
        return self.name + (":" + ",".join(f"{k}={v}" for k, v in self.params.items()) if self.params else "")


_INF = float("inf")  # the checks below are False for NaN and +-inf
_SPREAD = {"half_spread": (float, 1.0, lambda v: 0 <= v <= 1e15, ">= 0 (ticks)")}
_SKEW = {"k": (float, 0.5, lambda v: -_INF < v < _INF, "finite (ticks of fair value per tick of predicted move)")}
_PULL = {"threshold": (float, 1.0, lambda v: 0 <= v < _INF, ">= 0 (ticks of predicted move)")}
_COMMON = {
    "size": (int, 1, lambda v: v > 0, "> 0"),
    "max_position": (int, 0, lambda v: v >= 0, ">= 0 (lots; 0: no limit)"),
    "fair": (str, "mid", lambda v: v in ("mid", "micro"), "mid or micro"),
}
_POS = lambda v: 0 < v < _INF  # noqa: E731


def duration(v: Any) -> str:
    """A duration parameter (``1s``, ``250ms``, ``0``) -> its canonical text (the largest exact unit), so that
    a built-in's display name round-trips. ValueError for anything else (a bare non-zero number included)."""
    from mmsim.data.latency import parse_duration

    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ValueError(v)
    try:
        ns = parse_duration(str(v))
    except ConfigError:
        raise ValueError(v) from None
    for unit, size in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns and ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns" if ns else "0"


duration.label = "a duration (0, 500us, 250ms, 1s)"  # type: ignore[attr-defined]

_ORACLE_TOXIC = ("burst", "news", "burst+news", "news+burst")

#: Built-in strategies: name -> {param: (type, default, check, what the check requires)}. The engines run
#: them natively (mmsim._core) or as their Python twins (mmsim.engine.quoters); docs/strategies.md has the formulas.
BUILTINS: dict[str, dict[str, tuple]] = {
    "symmetric": {**_SPREAD, **_COMMON},
    "skew": {**_SPREAD, **_SKEW, **_COMMON},
    "pull": {**_SPREAD, **_PULL, **_COMMON},
    "skew_pull": {**_SPREAD, **_SKEW, **_PULL, **_COMMON},
    "avellaneda_stoikov": {
        "gamma": (float, 0.1, _POS, "> 0 (per tick-lot)"),
        "sigma": (float, 1.0, lambda v: 0 <= v < _INF, ">= 0 (ticks per sqrt(s))"),
        "k": (float, 1.5, _POS, "> 0 (per tick)"),
        "horizon": (float, 1.0, lambda v: 1e-9 <= v <= 4e9, "> 0 (seconds)"),
        "clock": (str, "rolling", lambda v: v in ("rolling", "session"), "rolling or session"),
        **_COMMON,
    },
    "glft": {
        "A": (float, 1.0, _POS, "> 0 (fills per second)"),
        "k": (float, 1.5, _POS, "> 0 (per tick)"),
        "gamma": (float, 0.1, _POS, "> 0 (per tick-lot)"),
        "sigma": (float, 1.0, lambda v: 0 <= v < _INF, ">= 0 (ticks per sqrt(s))"),
        **_COMMON, "max_position": (int, 10, lambda v: v >= 0, ">= 0 (lots; 0: no limit)"),
    },
    # The cross-venue defence (docs/venues.md): skew_pull on the lead venue's mid move over `window`, as this
    # strategy saw it through the lead's feed, in ticks of the quoted mid. Needs a signal venue.
    "lead_defence": {
        "lead": (str, "", lambda v: v == "" or bool(_NAME_RE.match(v)), "a signal venue's name ('' = the first)"),
        "window": (duration, "100ms", lambda v: v != "0", "a duration > 0"),
        "k": (float, 0.0, lambda v: -_INF < v < _INF, "finite (ticks of fair value per tick of lead move)"),
        "threshold": (float, 1.0, lambda v: 0 <= v <= _INF, ">= 0 (ticks of lead move; inf: never pull)"),
        **_SPREAD, **_COMMON,
    },
    # The clairvoyant bound (docs/strategies.md): these read the future through a marked path and their
    # decisions are marked clairvoyant; `mmsim audit` labels their runs. Not strategies to deploy.
    "oracle": {
        "horizon": (duration, "1s", lambda v: True, "a duration"),
        "threshold": (float, 0.5, lambda v: 0 <= v < _INF, ">= 0 (ticks of true move)"),
        "k": (float, 0.0, lambda v: -_INF < v < _INF, "finite (ticks of fair value per tick of true move)"),
        "anchor": (str, "decision", lambda v: v in ("decision", "data"),
                   "decision (t = the decision time) or data (t = the newest data's exchange time)"),
        **_SPREAD, **_COMMON,
    },
    "oracle_regime": {
        "horizon": (duration, "0", lambda v: True, "a duration"),
        "toxic": (str, "burst+news", lambda v: v in _ORACLE_TOXIC, "burst, news or burst+news"),
        "widen": (float, 0.0, lambda v: 0 <= v <= 1e15, ">= 0 (ticks added to the half spread; 0: pull both sides)"),
        **_SPREAD, **_COMMON,
    },
}

#: Built-ins that read the future (the clairvoyant bound): the only strategies whose decisions may be marked
#: clairvoyant (mmsim.analysis.audit).
ORACLES = ("oracle", "oracle_regime")

_INT_RE = re.compile(r"^[+-]?\d+$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def parse_params(text: str, spec: str) -> dict[str, Any]:
    """``"a=1,b=2.5,c=true,d=x"`` -> ``{"a": 1, "b": 2.5, "c": True, "d": "x"}``; errors name ``spec``."""
    out: dict[str, Any] = {}
    text = text.strip()
    if not text:
        return out
    for item in text.split(","):
        k, eq, v = item.partition("=")
        k, v = k.strip(), v.strip()
        if not eq or not k.isidentifier() or not v:
            raise ConfigError(f"strategy '{spec}': parameter '{item.strip()}' is not name=value")
        if k in out:
            raise ConfigError(f"strategy '{spec}': parameter '{k}' given twice")
        out[k] = _value(v)
    return out


def _value(v: str) -> Any:
    if _INT_RE.match(v):
        return int(v)
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        f = float(v)
    except ValueError:
        return v
    return f if low not in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity") else v


def load_strategy(spec: Any) -> tuple[Any, str]:
    """Resolve a strategy spec to ``(strategy_object, name)``.

    A non-string argument is returned as is (a strategy object with ``on_wakeup`` or a BuiltinSpec); a
    class is constructed without arguments.
    """
    if isinstance(spec, BuiltinSpec):
        return _builtin(spec.name, dict(spec.params), spec.spec)
    if not isinstance(spec, str):
        if inspect.isclass(spec):
            obj = _construct(spec, {}, spec.__name__)
            return obj, spec.__name__
        if hasattr(spec, "on_wakeup"):
            return spec, type(spec).__name__
        raise ConfigError(f"strategy {spec!r}: not a strategy (needs an on_wakeup(ctx) method) or a spec string")
    text = spec.strip()
    if not text:
        raise ConfigError("strategy '': empty spec")
    m = re.search(r"\.py(?=:|$)", text)
    if m:
        return _from_file(text, m.end())
    name, _, rest = text.partition(":")
    name = name.strip()
    if not _NAME_RE.match(name):
        raise ConfigError(f"strategy '{text}': '{name}' is not a strategy name or a file.py:ClassName path")
    params = parse_params(rest, text)
    if name in BUILTINS:
        return _builtin(name, params, text)
    eps = _entry_points()
    if name in eps:
        try:
            target = eps[name].load()
        except Exception as e:
            raise ConfigError(f"strategy '{text}': loading entry point {name} "
                              f"({eps[name].value}) failed: {type(e).__name__}: {e}") from None
        return _instantiate(target, params, text), text
    known = ", ".join(sorted(BUILTINS))
    ep_names = ", ".join(sorted(eps)) or "none installed"
    raise ConfigError(f"strategy '{text}': unknown strategy '{name}' (built-in: {known}; "
                      f"entry points: {ep_names}; or give path/to/file.py:ClassName)")


def _builtin(name: str, params: dict, spec: str) -> tuple[BuiltinSpec, str]:
    schema = BUILTINS.get(name)
    if schema is None:
        raise ConfigError(f"strategy '{spec}': unknown built-in '{name}' (built-in: {', '.join(sorted(BUILTINS))})")
    unknown = [k for k in params if k not in schema]
    if unknown:
        raise ConfigError(f"strategy '{spec}': unknown parameter '{unknown[0]}' for {name} "
                          f"(known: {', '.join(schema)})")
    out = {}
    for k, (typ, default, ok, need) in schema.items():
        v = params.get(k, default)
        what = getattr(typ, "label", typ.__name__)
        if isinstance(v, bool) or (typ is int and isinstance(v, float) and not v.is_integer()):
            raise ConfigError(f"strategy '{spec}': {k}={v} must be {what}")
        try:
            v = typ(v)
        except (TypeError, ValueError):
            raise ConfigError(f"strategy '{spec}': {k}={v} must be {what}") from None
        if not ok(v):
            raise ConfigError(f"strategy '{spec}': {k}={v} must be {need}")
        out[k] = v
    b = BuiltinSpec(name, out)
    return b, b.spec


def _from_file(text: str, end: int) -> tuple[Any, str]:
    path_text, rest = text[:end], text[end:]
    if not rest.startswith(":") or not rest[1:].strip():
        raise ConfigError(f"strategy '{text}': give the class as {path_text}:ClassName")
    cls_name, _, param_text = rest[1:].partition(":")
    cls_name = cls_name.strip()
    if not cls_name.isidentifier():
        raise ConfigError(f"strategy '{text}': '{cls_name}' is not a class name")
    params = parse_params(param_text, text)
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ConfigError(f"strategy '{text}': file {path_text} not found")
    module = _import_file(path, text)
    target = getattr(module, cls_name, None)
    if target is None:
        classes = sorted(k for k, v in vars(module).items()
                         if inspect.isclass(v) and v.__module__ == module.__name__)
        raise ConfigError(f"strategy '{text}': {path_text} has no class {cls_name} "
                          f"(classes there: {', '.join(classes) or 'none'})")
    return _instantiate(target, params, text), text


def _import_file(path: Path, spec: str):
    """Import a user file once per resolved path, registered in sys.modules so its objects pickle."""
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", resolved.stem)
    mod_name = f"mmsim_user_{stem}_{digest}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    ispec = importlib.util.spec_from_file_location(mod_name, resolved)
    if ispec is None or ispec.loader is None:
        raise ConfigError(f"strategy '{spec}': cannot import {path}")
    module = importlib.util.module_from_spec(ispec)
    sys.modules[mod_name] = module
    try:
        ispec.loader.exec_module(module)
    except BaseException as e:
        del sys.modules[mod_name]
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise ConfigError(f"strategy '{spec}': importing {path} failed: {type(e).__name__}: {e}") from None
    return module


def _instantiate(target: Any, params: dict, spec: str) -> Any:
    if inspect.isclass(target) or (callable(target) and not hasattr(target, "on_wakeup")):
        obj = _construct(target, params, spec)
    elif params and callable(getattr(target, "with_params", None)):
        try:  # a compiled numba rule (mmsim.engine.numba_strategy.NumbaStrategy) takes its parameters this way
            obj = target.with_params(**params)
        except (ConfigError, TypeError, ValueError) as e:
            raise ConfigError(f"strategy '{spec}': {e}") from None
    else:
        if params:
            raise ConfigError(f"strategy '{spec}': {target!r} is an object, it takes no parameters")
        obj = target
    if not callable(getattr(obj, "on_wakeup", None)):
        raise ConfigError(f"strategy '{spec}': {type(obj).__name__} has no on_wakeup(ctx) method")
    return obj


def _construct(target: Any, params: dict, spec: str) -> Any:
    name = getattr(target, "__name__", repr(target))
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        try:
            sig.bind(**params)
        except TypeError as e:
            raise ConfigError(f"strategy '{spec}': bad parameters for {name}: {e}") from None
    try:
        return target(**params)
    except Exception as e:  # the user's constructor rejected its parameters (or failed): one line
        raise ConfigError(f"strategy '{spec}': {name}({_fmt(params)}) failed: {type(e).__name__}: {e}") from None


def _fmt(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed entry points of group ``mmsim.strategies`` by name (first one wins on duplicates)."""
    out: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, ep)
    return out
