"""What the strategy knows: the Rust feature bank's Python side (specs, names), batch mode, prediction
models (loading, AOT compilation, training) and the Cont–Kukanov–Stoikov OFI check.
Imports the data layer and the contract; never the engine or analysis."""
