"""The random numbers of the synthetic generators: splitmix64 inside numba kernels.

A generator keeps its state in a ``uint64[1]`` array seeded from ``numpy.random.default_rng(seed)``, so a run
is a pure function of its seed, and the stream does not depend on numba's or numpy's own generators.
"""
import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def uniform(st):
    """splitmix64 step -> float in [0, 1) with 53 random bits; ``st`` is a uint64[1] state."""
    st[0] += _GOLDEN
    z = st[0]
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * _INV53


@njit(cache=True, inline="always")
def exp1(st):
    """Exponential with mean 1."""
    return -math.log(1.0 - uniform(st))


@njit(cache=True, inline="always")
def normal(st):
    """Standard normal by Box-Muller (one of the pair)."""
    u1 = uniform(st)
    u2 = uniform(st)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
