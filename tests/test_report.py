"""``mmsim report DIR``: one self-contained HTML page, checked in a real headless browser (docs/report.md)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mmsim.cli import main
from mmsim.analysis.sweep import SweepSpec, run_path, run_sweep

ROWS = "60000"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium not installed: apt-get install chromium (CI installs it)")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    cmp = root / "cmp"
    assert main(["compare", "toxic_burst", "--baseline", "symmetric:half_spread=1", "--treated",
                 "symmetric:half_spread=2", "--rows", ROWS, "--seeds", "1-3", "--block", "10s", "--n-boot", "200",
                 "--out", str(cmp)]) == 0
    # a small sweep where the report finds it by itself (DIR/sweep). The points are computed in this process
    # (no Dask cluster to start); run_sweep then finds them done and only gathers sweep.parquet/sweep.json.
    spec = SweepSpec(scenario="toxic_burst", baseline="symmetric:half_spread=1", treated="symmetric:half_spread=2",
                     feed_latencies=("0", "10ms"), compute_latencies=("0",), seed=0, horizon="1s", block="10s",
                     n_boot=100, rows=30_000, seeds=(1, 2))
    for path in spec.paths():
        run_path(spec, path, spec.points(), str(cmp / "sweep"))
    run_sweep(spec, cmp / "sweep", workers=1, progress=False)
    empty = root / "empty"   # the treated run quotes 1000 ticks away: no fills
    assert main(["compare", "toxic_burst", "--baseline", "symmetric:half_spread=1", "--treated",
                 "symmetric:half_spread=1000", "--rows", "20000", "--seeds", "1", "--block", "10s", "--n-boot", "50",
                 "--out", str(empty)]) == 0
    return {"root": root, "cmp": cmp, "empty": empty}


def _browse(html: Path, shot: Path) -> tuple[str, str]:
    """Screenshot and rendered DOM of ``html`` in headless chromium; returns (dom, stderr of both runs)."""
    exe = _chromium()
    common = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
              "--window-size=1200,3000", "--virtual-time-budget=5000"]
    url = html.resolve().as_uri()
    a = subprocess.run(common + [f"--screenshot={shot}", url], capture_output=True, text=True, timeout=60,
                       cwd=shot.parent)
    b = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=60, cwd=shot.parent)
    assert b.returncode == 0, b.stderr[-2000:]
    return b.stdout, a.stderr + b.stderr


def _console_errors(stderr: str) -> list[str]:
    """Page errors and any console message at all (the page itself never logs)."""
    return [ln for ln in stderr.splitlines() if re.search(r"Uncaught|ERROR:CONSOLE|SEVERE|:CONSOLE[:(]", ln)]


def _check_png(shot: Path) -> None:
    import matplotlib.image as mpimg

    assert shot.is_file() and shot.stat().st_size > 50_000, "screenshot missing or tiny"
    img = mpimg.imread(str(shot))
    assert img.shape[0] >= 2000 and img.shape[1] >= 1000
    rgb = (np.asarray(img)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours = np.unique(rgb[:: 7], axis=0)
    assert len(colours) > 50, f"screenshot looks blank ({len(colours)} colours)"
    # figures are drawn far down the page, not only the header
    lower = (np.asarray(img)[1500:, :, :3] * 255).astype(np.uint8).reshape(-1, 3)
    assert len(np.unique(lower[:: 7], axis=0)) > 20


def _no_network(text: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I), "network resource in report"
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text, re.I)


def test_compare_report_renders_in_browser(folders, capsys):
    cmp = folders["cmp"]
    assert main(["report", str(cmp)]) == 0
    assert "report.html" in capsys.readouterr().out
    html = cmp / "report.html"
    text = html.read_text(encoding="utf-8")
    _no_network(text)
    for section in ("Headline", "Cumulative PnL decomposition", "Inventory", "Markout curves",
                    "Fills on the price path", "Savings vs latency", "Break-even feed latency", "Settings",
                    "feed_latency", "maker_fee_bps", "toxic_burst", "symmetric:half_spread=2"):
        assert section in text, section
    assert text.count("data:image/png;base64,") >= 5    # decomposition, inventory, markouts, price, sweep
    assert "No sweep available" not in text
    shot = folders["root"] / "compare.png"
    dom, err = _browse(html, shot)
    _check_png(shot)
    assert 'data-rendered="1"' in dom, "the page's load handler did not run"
    m = re.search(r'<pre id="errors">(.*?)</pre>', dom, re.S)
    assert m is not None and m.group(1).strip() == "", f"page recorded errors: {m and m.group(1)}"
    assert not _console_errors(err), _console_errors(err)


def test_empty_fill_log_still_renders(folders):
    empty = folders["empty"]
    assert main(["report", str(empty)]) == 0
    html = empty / "report.html"
    text = html.read_text(encoding="utf-8")
    assert "the treated run has no fills" in text
    assert text.count("no fills") >= 1 and "image/png" in text
    assert "No sweep available" in text
    _no_network(text)
    shot = folders["root"] / "empty.png"
    dom, err = _browse(html, shot)
    _check_png(shot)
    assert 'data-rendered="1"' in dom
    assert re.search(r'<pre id="errors">\s*</pre>', dom)
    assert not _console_errors(err)


def test_explicit_sweep_and_run_folder(folders, tmp_path):
    from mmsim.analysis.report import build_report

    text = build_report(folders["empty"], sweep=folders["cmp"] / "sweep")
    assert "Break-even feed latency" in text and "No sweep available" not in text
    # a single run folder: a reduced report, written in that folder
    run = folders["cmp"] / "baseline"
    assert main(["report", str(run)]) == 0
    t = (run / "report.html").read_text(encoding="utf-8")
    assert "single run (reduced report)" in t and "Run summary" in t and "Markout curves" in t
    _no_network(t)


def test_bad_folders_one_line_exit_2(folders, tmp_path, capsys):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("hi")
    cases = [(junk, "neither a compare folder"), (tmp_path / "missing", "no such folder"),
             (junk / "notes.txt", "not a folder"), (folders["cmp"] / "sweep", "a sweep folder")]
    for path, msg in cases:
        assert main(["report", str(path)]) == 2
        e = capsys.readouterr().err
        assert e.startswith("mmsim: error:") and msg in e and e.count("\n") == 1, e
    assert main(["report", str(folders["empty"]), "--sweep", str(junk)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    assert not (junk / "report.html").exists()
