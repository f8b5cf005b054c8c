"""Write coinm_btcusd_perp_derived.gz, a COIN-M BTCUSD_PERP capture DERIVED from the USD-M slice.

No COIN-M capture is available, so this builds one in the shape of Binance's documented COIN-M payloads
(websocket market streams of dstream.binance.com and the REST ``/dapi/v1/depth`` snapshot) from the real USD-M
capture's slice beside it, keeping its receive times, update ids, prices and its message order:

- diff depth: the USD-M real-time updates batched into ``btcusd_perp@depth@100ms`` pushes (the updates of one
  100 ms window of ``E``, merged: ``U`` of the first, ``u``/``E``/``T`` of the last, ``pu`` = the previous
  push's ``u``, each level's last quantity), with ``s`` BTCUSD_PERP and the pair ``ps`` BTCUSD; written at the
  line (and receive time) of the window's last update;
- quantities in contracts of 100 USD: ``max(1, round(qty * price / 100))`` for a non-zero BTC quantity, 0 stays
  0 (one function of (price, qty), so a level and the bookTicker that reports it agree);
- trades -> ``btcusd_perp@aggTrade``: consecutive trades with the same ``T``, price and side form one aggregate
  trade (``a`` numbered from 1_000_000_000, ``f``/``l`` the first and last trade ids, ``q`` the contracts of
  the summed BTC quantity);
- bookTicker: ``ps`` added, quantities in contracts; REST snapshot: ``symbol`` and ``pair`` added.

Run from the repository root: ``python tests/data/binance/make_coinm_fixture.py`` (deterministic: gzip mtime 0).
"""
from __future__ import annotations

import gzip
import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "usdm_btcusdt_20240808_lines1-3000.gz"
OUT = HERE / "coinm_btcusd_perp_derived.gz"
SYMBOL, PAIR, STREAM = "BTCUSD_PERP", "BTCUSD", "btcusd_perp"
CONTRACT_USD = Decimal(100)
WINDOW_MS = 100


def contracts(price: str, qty: str) -> str:
    q = Decimal(qty)
    if q == 0:
        return "0"
    return str(max(1, int((q * Decimal(price) / CONTRACT_USD).to_integral_value(ROUND_HALF_EVEN))))


def levels(arr: list) -> list:
    return [[p, contracts(p, q)] for p, q in arr]


def dump(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"))


def main() -> None:
    lines = gzip.decompress(SRC.read_bytes()).decode().splitlines()
    parsed = []
    for line in lines:
        head, _, rest = line.partition(" ")
        parsed.append((int(head), json.loads(rest)))
    # depth windows: index of the last update of each window -> merged push
    depth_idx = [i for i, (_, m) in enumerate(parsed) if "stream" in m and m["data"]["e"] == "depthUpdate"]
    windows: dict[int, list[int]] = {}
    for i in depth_idx:
        windows.setdefault(parsed[i][1]["data"]["E"] // WINDOW_MS, []).append(i)
    push_at: dict[int, dict] = {}
    prev_u = None
    for key in sorted(windows):
        group = windows[key]
        first, last = parsed[group[0]][1]["data"], parsed[group[-1]][1]["data"]
        bids: dict[str, str] = {}
        asks: dict[str, str] = {}
        for i in group:
            d = parsed[i][1]["data"]
            bids.update({p: q for p, q in d["b"]})
            asks.update({p: q for p, q in d["a"]})
        push = {"e": "depthUpdate", "E": last["E"], "T": last["T"], "s": SYMBOL, "ps": PAIR, "U": first["U"],
                "u": last["u"], "pu": first["pu"] if prev_u is None else prev_u,
                "b": levels(sorted(bids.items(), key=lambda kv: Decimal(kv[0]))),
                "a": levels(sorted(asks.items(), key=lambda kv: Decimal(kv[0])))}
        prev_u = last["u"]
        push_at[group[-1]] = push
    out = []
    agg_id = 1_000_000_000
    i = 0
    while i < len(parsed):
        local, m = parsed[i]
        if "lastUpdateId" in m:
            snap = {"lastUpdateId": m["lastUpdateId"], "symbol": SYMBOL, "pair": PAIR, "E": m["E"], "T": m["T"],
                    "bids": levels(m["bids"]), "asks": levels(m["asks"])}
            out.append(f"{local} {dump(snap)}")
        else:
            d = m["data"]
            if d["e"] == "depthUpdate":
                if i in push_at:
                    out.append(f"{local} {dump({'stream': STREAM + '@depth@100ms', 'data': push_at[i]})}")
            elif d["e"] == "bookTicker":
                bt = {"e": "bookTicker", "u": d["u"], "s": SYMBOL, "ps": PAIR, "b": d["b"], "B": contracts(d["b"], d["B"]),
                      "a": d["a"], "A": contracts(d["a"], d["A"]), "T": d["T"], "E": d["E"]}
                out.append(f"{local} {dump({'stream': STREAM + '@bookTicker', 'data': bt})}")
            elif d["e"] == "trade":
                group = [d]
                while i + 1 < len(parsed):
                    nxt = parsed[i + 1][1].get("data", {})
                    if (nxt.get("e") == "trade" and nxt["T"] == d["T"] and nxt["p"] == d["p"]
                            and nxt["m"] == d["m"] and nxt["t"] == group[-1]["t"] + 1):
                        group.append(nxt)
                        i += 1
                    else:
                        break
                qty = sum(Decimal(g["q"]) for g in group)
                agg = {"e": "aggTrade", "E": group[-1]["E"], "a": agg_id, "s": SYMBOL, "p": d["p"],
                       "q": contracts(d["p"], str(qty)), "f": group[0]["t"], "l": group[-1]["t"], "T": d["T"],
                       "m": d["m"]}
                agg_id += 1
                out.append(f"{parsed[i][0]} {dump({'stream': STREAM + '@aggTrade', 'data': agg})}")
            else:
                raise SystemExit(f"unexpected event {d['e']}")
        i += 1
    with open(OUT, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write(("\n".join(out) + "\n").encode())
    print(f"wrote {OUT.name}: {len(out)} lines from {len(lines)}")


if __name__ == "__main__":
    main()
