"""mmsim: market-making adverse-selection backtests with injectable feed, order and compute latency.

The hot loop is C++ (``mmsim._core``), features are Rust linked into the same module, and Python
orchestrates. The package is layered, data flowing one way (docs/architecture.md)::

    mmsim.records, mmsim.errors        the written contract: record layouts, config and summary keys
    mmsim.data                         adapters, event store, scenarios, validation, synthetic markets, latency
    mmsim.signals                      what the strategy knows: features, batch mode, models, training
    mmsim.engine                       simulate, strategies and their loading, results
    mmsim.reference                    the pure-Python oracle simulator (reads only mmsim.records)
    mmsim.analysis                     markouts and decomposition, compare, sweep, report, audit
    mmsim.cli                          the command line

The names below are the public Python API; the heavier ones are imported on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

from mmsim._version import __version__

try:  # a source tree put on sys.path by hand has no compiled core: say what to do, in one line
    from mmsim import _core  # noqa: F401
except ImportError:
    raise ImportError("mmsim: the compiled core mmsim._core is missing (this is a source tree, not an installed "
                      "package); install it with `python -m pip install .` from the repository root (README)") from None
from mmsim.engine.sim import RunResult, SignalVenue, Venue, simulate
from mmsim.engine.strategy import Quotes, SymmetricQuoter
from mmsim.errors import ConfigError, DataError, MmsimError, StrategyError
from mmsim.records import Instrument

#: name -> module for the names imported on first use (numba, pyarrow and matplotlib load only when needed).
_LAZY = {
    "generate_l2": "mmsim.data.synthetic",
    "generate_market": "mmsim.data.market",
    "EventStore": "mmsim.data.store",
    "load_scenario": "mmsim.data.scenario",
    "list_scenarios": "mmsim.data.scenario",
    "features_frame": "mmsim.signals.batch",
    "load_model": "mmsim.signals.models",
    "cfunc_strategy": "mmsim.engine.numba_strategy",
    "load_strategy": "mmsim.engine.loader",
    "write_results": "mmsim.engine.results",
    "analyze": "mmsim.analysis.markouts",
    "run_compare": "mmsim.analysis.compare",
    "run_sweep": "mmsim.analysis.sweep",
    "write_report": "mmsim.analysis.report",
    "audit_dir": "mmsim.analysis.audit",
    "ReferenceEngine": "mmsim.reference",
}

__all__ = ["simulate", "SignalVenue", "Venue", "Instrument", "RunResult", "Quotes", "SymmetricQuoter",
           "MmsimError", "DataError", "ConfigError", "StrategyError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mmsim' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
