"""The engine layer: ``simulate`` (latency streams, the C++ loop or the reference), the strategy interface and
its loading (Python class, numba cfunc, native built-ins and their Python twins), results and their hash chain.
Imports signals, data and the contract; never analysis or the command line."""
