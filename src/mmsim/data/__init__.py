"""Data layer: what the market sent and when it reaches whom.

Adapters (LOBSTER, Binance, Tardis, Parquet) convert real captures into the event store; the synthetic
markets generate events with ground truth; scenarios describe a source plus its latency legs; validation
checks every input; latency models turn exchange times into arrival times (the feed clock and order legs).
Imports only the contract (``mmsim.records``, ``mmsim.errors``)."""
