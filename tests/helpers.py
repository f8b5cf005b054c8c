"""Small builders shared by the tests."""
import numpy as np

from mmsim import records as R


def events(rows):
    """rows: (exch_ts, kind, side, price, qty[, order_id]) -> EVENT_DTYPE array."""
    ev = np.zeros(len(rows), R.EVENT_DTYPE)
    for i, row in enumerate(rows):
        t, k, s, p, q = row[:5]
        ev[i]["exch_ts"], ev[i]["kind"], ev[i]["side"], ev[i]["price"], ev[i]["qty"] = t, k, s, p, q
        ev[i]["order_id"] = row[5] if len(row) > 5 else 0
        ev[i]["recv_ts"] = R.NO_TS
    return ev


def zero_latencies():
    return {k: np.zeros(1, np.int64) for k in ("entry", "cancel", "response", "compute")}
