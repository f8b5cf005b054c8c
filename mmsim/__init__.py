"""mmsim: market-making adverse-selection backtests with injectable feed, order and compute latency.

The hot loop is C++ (``mmsim._core``), features are Rust linked into the same module, and Python
orchestrates: ``simulate`` runs a strategy over events; ``mmsim.reference`` is the pure-Python twin.
"""
from .errors import ConfigError, DataError, MmsimError, StrategyError
from .sim import Instrument, RunResult, simulate
from .strategy import Quotes, SymmetricQuoter

__all__ = ["simulate", "Instrument", "RunResult", "Quotes", "SymmetricQuoter",
           "MmsimError", "DataError", "ConfigError", "StrategyError"]
__version__ = "0.1.0"
