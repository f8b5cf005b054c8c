"""`mmsim data convert`: the report on success, one-line errors and exit 2 on bad input."""
from __future__ import annotations

import pytest
from adapters_helpers import DATA

from mmsim.cli import main
from mmsim.data.store import EventStore

LOB = DATA / "lobster" / "AMZN_2012-06-21_1_lines1-3000.zip"
BIN = DATA / "binance" / "usdm_btcusdt_20240808_lines1-3000.gz"
TB = DATA / "tardis" / "binance-futures_incremental_book_L2_2024-08-08_BTCUSDT.csv"
TT = DATA / "tardis" / "binance-futures_trades_2024-08-08_BTCUSDT.csv"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_convert_prints_the_report(capsys, tmp_path):
    code, out, err = run(capsys, "data", "convert", "--format", "lobster", LOB, "--out", tmp_path / "s.mmstore")
    assert code == 0 and err == ""
    assert out.startswith("store      ") and "mode l3" in out and "book_check.rows_unexplained: 0" in out
    assert "rows/s" in out.splitlines()[-1]
    assert EventStore(tmp_path / "s.mmstore").n_rows > 3000
    # converting again over an existing store replaces it
    code, out, _ = run(capsys, "data", "convert", "--format", "lobster", LOB, "--out", tmp_path / "s.mmstore")
    assert code == 0
    code, out, _ = run(capsys, "data", "convert", "--format", "binance", BIN, "--out", tmp_path / "b.mmstore",
                       "--tick-size", "0.1", "--lot-size", "0.001")
    assert code == 0 and "clock_skew.skew_ns: -1,270,666,000" in out and "book_ticker_check.mismatches: 0" in out
    code, out, _ = run(capsys, "data", "convert", "--format", "tardis", TB, TT, "--out", tmp_path / "t.mmstore",
                       "--tick-size", "0.1", "--lot-size", "0.001", "--symbol", "BTCUSDT")
    assert code == 0 and "counts.clear: 2" in out


@pytest.mark.parametrize("argv, text", [
    (["data"], "missing command (see mmsim data --help)"),
    (["data", "convert", "--format", "lobster", "--out", "o"], "the following arguments are required: INPUT"),
    (["data", "convert", LOB, "--out", "o"], "the following arguments are required: --format"),
    (["data", "convert", "--format", "csv", LOB, "--out", "o"], "argument --format: invalid choice: 'csv'"),
    (["data", "convert", "--format", "binance", BIN, "--out", "o", "--tick-size", "0"],
     "argument --tick-size: 0 must be a positive number"),
    (["data", "convert", "--format", "binance", BIN, "--out", "o", "--tick-size", "x"],
     "argument --tick-size: 'x' is not a number"),
    (["data", "convert", "--format", "binance", BIN, "--out", "o"], "needs --tick-size and --lot-size"),
    (["data", "convert", "--format", "lobster", "missing.zip", "--out", "o"], "missing.zip: file not found"),
    (["data", "convert", "--format", "tardis", DATA / "tardis" / "bad_unknown_field_trades.csv", TB,
      "--tick-size", "0.1", "--lot-size", "0.001", "--out", "o"],
     "bad_unknown_field_trades.csv:1: unknown field(s) 'trade_type'"),
])
def test_errors_are_one_line_exit_2(capsys, tmp_path, monkeypatch, argv, text):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert err.startswith("mmsim: error: ") and err.count("\n") == 1, err
    assert text in err and "Traceback" not in err


def test_out_must_not_be_a_foreign_folder_or_file(capsys, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "data", "convert", "--format", "lobster", LOB, "--out", tmp_path / "mine")
    assert code == 2 and "exists and is not an event store (refusing to replace it)" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "f").write_text("x")
    code, _, err = run(capsys, "data", "convert", "--format", "lobster", LOB, "--out", tmp_path / "f")
    assert code == 2 and "exists and is not a directory" in err
