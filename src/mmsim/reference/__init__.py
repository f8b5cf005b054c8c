"""The pure-Python oracle simulator: the engine's rules (docs/fills.md, docs/event-loop.md) written again,
independently, with sortedcontainers. It shares only the written contract (``mmsim.records``) with the C++
engine, never logic; ``tests/test_differential.py`` holds the two to identical fills, orders and cash."""
from mmsim.reference.simulator import ReferenceEngine

__all__ = ["ReferenceEngine"]
