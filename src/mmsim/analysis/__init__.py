"""Reading the answer: markouts and the exact PnL decomposition, compare with paired block-bootstrap intervals,
latency sweeps on Dask, the HTML report and the audit of a run folder. Imports the layers below; never the CLI."""
