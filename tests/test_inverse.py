"""Inverse contracts (Binance COIN-M): PnL and fees in coin and in quote currency, the instrument's contract terms
in stores and scenarios; linear instruments unchanged (docs/data.md, "Inverse contracts")."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import mmsim
from mmsim import records as R
from mmsim.data.scenario import load_scenario
from mmsim.data.store import EventStore, write_store
from mmsim.engine.results import INVERSE_KEYS, inverse_figures
from mmsim.errors import ConfigError

B, A = R.BID, R.ASK
COINM = R.Instrument(tick_size=0.1, lot_size=1.0, symbol="BTCUSD_PERP", contract_size=100.0, inverse=True)


def fills(*rows):
    """rows: (side, price in ticks, qty in lots, maker)."""
    f = np.zeros(len(rows), R.FILL_DTYPE)
    for i, (side, price, qty, maker) in enumerate(rows):
        f["side"][i], f["price"][i], f["qty"][i], f["maker"][i] = side, price, qty, maker
    return f


# --------------------------------------------------------------------------------------------- the formula
def test_hand_computed_round_trip():
    """Buy 10 contracts of 100 USD at 50,000, sell them at 55,000: 1000 · (1/50000 − 1/55000) BTC."""
    f = fills((1, 500_000, 10, True), (-1, 550_000, 10, True))
    out = inverse_figures(f, {"final_mid": 550_005.0, "position": 0}, COINM, 0.0, 0.0)
    expected = 1000 * (1 / 50_000 - 1 / 55_000)          # 0.0018181818... BTC
    assert out["pnl_coin"] == pytest.approx(expected, rel=1e-15)
    assert out["pnl_coin"] == pytest.approx(0.00181818181818, rel=1e-12)
    assert out["pnl_quote"] == pytest.approx(expected * 55_000.5, rel=1e-15)
    assert out["fees_coin"] == 0.0 and out["inverse"] is True and out["contract_size"] == 100.0


def test_open_position_is_marked_at_the_final_mid_and_fees_are_coin():
    """Bought 10 contracts at 50,000, mid now 55,000: the same 0.0018182 BTC, worth 100.00 USD there;
    a 5 bps taker fee on 1,000 USD at 50,000 is 0.00001 BTC."""
    f = fills((1, 500_000, 10, False))
    out = inverse_figures(f, {"final_mid": 550_000.0, "position": 10}, COINM, -0.5, 5.0)
    assert out["fees_coin"] == pytest.approx(5e-4 * 1000 / 50_000, rel=1e-15)    # 1e-05 BTC
    assert out["pnl_coin"] == pytest.approx(1000 * (1 / 50_000 - 1 / 55_000) - 1e-05, rel=1e-12)
    assert out["pnl_quote"] == pytest.approx(100.0 - 0.55, rel=1e-12)                # 100 USD gain - 0.55 USD fee
    assert out["fees_quote"] == pytest.approx(0.55, rel=1e-12)
    # a maker rebate (negative bps) is a negative fee
    assert inverse_figures(fills((1, 500_000, 10, True)), {"final_mid": 550_000.0, "position": 10}, COINM,
                           -0.5, 5.0)["fees_coin"] == pytest.approx(-1e-06)
    # an open position without any mid cannot be marked
    nan = inverse_figures(f, {"final_mid": math.nan, "position": 10}, COINM, 0.0, 0.0)
    assert math.isnan(nan["pnl_coin"]) and math.isnan(nan["pnl_quote"])


# --------------------------------------------------------------------------------------------- both engines
def events(*rows):
    """rows: (exch_ts, side, price, qty); each time stamp is one message (FLAG_MSG_END on its last row)."""
    ev = np.zeros(len(rows), R.EVENT_DTYPE)
    ev["recv_ts"] = R.NO_TS
    for i, (t, side, price, qty) in enumerate(rows):
        ev["exch_ts"][i], ev["kind"][i], ev["side"][i], ev["price"][i], ev["qty"][i] = t, R.DEPTH, side, price, qty
    last = np.r_[ev["exch_ts"][1:] != ev["exch_ts"][:-1], True]
    ev["flags"][last] |= R.FLAG_MSG_END
    return ev


class BuyThenSell:
    """Takes 10 contracts at 50,000.0 when that is the ask, sells them at 55,000.0 when that is the bid."""

    def __init__(self):
        self.bought = self.sold = False

    def on_wakeup(self, ctx):
        if not self.bought and ctx.best_ask == 500_000 and ctx.ask_qty >= 10:
            self.bought = True
            ctx.submit(B, 500_000, 10, "ioc")
        elif self.bought and not self.sold and ctx.position == 10 and ctx.best_bid == 550_000:
            self.sold = True
            ctx.submit(A, 550_000, 10, "ioc")


MARKET = events((1_000, B, 499_990, 20), (1_000, A, 500_000, 20),
                (2_000, A, 500_000, 0), (2_000, B, 499_990, 0), (2_000, B, 550_000, 20), (2_000, A, 550_010, 20),
                (3_000, B, 549_990, 5))


@pytest.mark.parametrize("engine", ["cpp", "reference"])
def test_both_engines_give_the_hand_computed_figures(engine):
    res = mmsim.simulate(MARKET, COINM, BuyThenSell(), engine=engine, taker_fee_bps=5.0)
    s = res.summary
    assert s["n_fills"] == 2 and s["position"] == 0
    assert res.fills["price"].tolist() == [500_000, 550_000]
    fees = 5e-4 * (1000 / 50_000 + 1000 / 55_000)
    assert s["fees_coin"] == pytest.approx(fees, rel=1e-14)
    assert s["pnl_coin"] == pytest.approx(1000 * (1 / 50_000 - 1 / 55_000) - fees, rel=1e-13)
    assert s["pnl_quote"] == pytest.approx(s["pnl_coin"] * 55_000.5, rel=1e-15)   # final mid 55,000.5
    # the linear figures are kept as they are (price x contracts), beside the inverse ones
    assert s["pnl"] == pytest.approx((550_000 - 500_000) * 10 * 0.1 - s["fees"])


def test_engines_agree_on_every_inverse_key():
    a = mmsim.simulate(MARKET, COINM, BuyThenSell(), engine="cpp", maker_fee_bps=-0.5, taker_fee_bps=5.0).summary
    b = mmsim.simulate(MARKET, COINM, BuyThenSell(), engine="reference", maker_fee_bps=-0.5,
                       taker_fee_bps=5.0).summary
    assert {k: a[k] for k in INVERSE_KEYS} == {k: b[k] for k in INVERSE_KEYS}


def test_a_linear_instrument_has_no_inverse_keys():
    linear = R.Instrument(tick_size=0.1, lot_size=1.0, symbol="BTCUSDT")
    s = mmsim.simulate(MARKET, linear, BuyThenSell()).summary
    assert not set(INVERSE_KEYS) & set(s)
    assert s["pnl"] == pytest.approx((550_000 - 500_000) * 10 * 0.1)


# --------------------------------------------------------------------------------------------- store, scenario
def test_store_carries_the_contract_terms_and_old_stores_read_linear(tmp_path):
    meta = write_store(tmp_path / "inv.mmstore", [MARKET], COINM)
    assert meta["instrument"]["contract_size"] == 100.0 and meta["instrument"]["inverse"] is True
    assert EventStore(tmp_path / "inv.mmstore").instrument == COINM
    linear = R.Instrument(0.1, 1.0, "BTCUSDT")
    meta = write_store(tmp_path / "lin.mmstore", [MARKET], linear)
    assert set(meta["instrument"]) == {"symbol", "tick_size", "lot_size"}   # a linear store's meta is unchanged
    assert EventStore(tmp_path / "lin.mmstore").instrument == linear
    # an older store written without the keys is linear with contract size 1
    m = json.loads((tmp_path / "inv.mmstore" / "meta.json").read_text())
    for k in ("contract_size", "inverse"):
        del m["instrument"][k]
    (tmp_path / "inv.mmstore" / "meta.json").write_text(json.dumps(m))
    inst = EventStore(tmp_path / "inv.mmstore").instrument
    assert (inst.inverse, inst.contract_size) == (False, 1.0)


def scenario(tmp_path, instrument: str, store: str = ""):
    src = f'kind = "store"\npath = "{store}"' if store else 'kind = "synthetic_l2"\nn_rows = 100'
    p = tmp_path / "s.toml"
    p.write_text(f"[scenario]\nname = \"inv\"\n[instrument]\ntick_size = 0.1\n{instrument}\n[source]\n{src}\n")
    return p


def test_scenario_instrument_keys(tmp_path):
    sc = load_scenario(scenario(tmp_path, "inverse = true\ncontract_size = 100"))
    assert (sc.instrument.inverse, sc.instrument.contract_size) == (True, 100.0)
    with pytest.raises(ConfigError, match=r"\[instrument\] contract_size: applies to an inverse contract"):
        load_scenario(scenario(tmp_path, "contract_size = 10"))
    with pytest.raises(ConfigError, match=r"\[instrument\] inverse"):
        load_scenario(scenario(tmp_path, 'inverse = "yes"'))


def test_scenario_on_an_inverse_store_takes_its_terms(tmp_path):
    write_store(tmp_path / "inv.mmstore", [MARKET], COINM)
    store = str(tmp_path / "inv.mmstore")
    sc = load_scenario(scenario(tmp_path, "", store))
    _, inst = sc.load_events()
    assert (inst.inverse, inst.contract_size) == (True, 100.0)
    sc = load_scenario(scenario(tmp_path, "inverse = true\ncontract_size = 10", store))
    with pytest.raises(ConfigError, match="inverse contract_size 10.0 differs from the store's"):
        sc.load_events()
