"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""
from __future__ import annotations


class MmsimError(Exception):
    """Base class: bad input or configuration, reported without a traceback."""


class DataError(MmsimError, ValueError):
    """Bad market data. The message names the input and the row."""


class ConfigError(MmsimError, ValueError):
    """A scenario, latency spec, strategy spec or option that does not parse or is out of range."""


class StrategyError(MmsimError, RuntimeError):
    """A strategy failed; the message names the strategy, the wakeup time and the cause."""
