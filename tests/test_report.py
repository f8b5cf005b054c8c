"""``mmsim report DIR``: one self-contained HTML page, checked in a real headless browser (docs/report.md)."""
from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Optional

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


def _browse(html: Path, shot: Optional[Path]) -> tuple[str, str]:
    """Screenshot (unless ``shot`` is None) and rendered DOM of ``html`` in headless chromium; returns (dom,
    stderr of the runs)."""
    exe = _chromium()
    common = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
              "--window-size=1200,3000", "--virtual-time-budget=5000"]
    url = html.resolve().as_uri()
    err = ""
    if shot is not None:
        a = subprocess.run(common + [f"--screenshot={shot}", url], capture_output=True, text=True, timeout=60,
                           cwd=shot.parent)
        err = a.stderr
    b = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=60, cwd=html.parent)
    assert b.returncode == 0, b.stderr[-2000:]
    return b.stdout, err + b.stderr


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


class _Outline(HTMLParser):
    """Elements in document order: (tag, attrs, text inside up to the next element) for the top-level check."""

    def __init__(self):
        super().__init__()
        self.items: list[list] = []

    def handle_starttag(self, tag, attrs):
        self.items.append([tag, dict(attrs), ""])

    def handle_data(self, data):
        if self.items:
            self.items[-1][2] += data


def _after_title(page: str) -> tuple[str, dict, str]:
    """The first element after the <h1> title (tag, attrs) and the text of the verdict box it opens."""
    o = _Outline()
    o.feed(page)
    i = next(k for k, (tag, _, _) in enumerate(o.items) if tag == "h1")
    tag, attrs, _ = o.items[i + 1]
    m = re.search(r'<div id="verdict"[^>]*>(.*?)</div>', page, re.S)
    text = re.sub(r"<[^>]+>", "", m.group(1)) if m else ""
    return tag, attrs, html_lib.unescape(text)


def _tables_scroll(page: str) -> None:
    """Every table sits directly in a sideways-scrolling div."""
    n = page.count("<table")
    wrapped = len(re.findall(r'<div class="scroll[^"]*"(?: id="[^"]*")?><table', page))
    assert n > 0 and wrapped == n, f"{n - wrapped} of {n} tables not in a scrolling div"


def test_compare_report_renders_in_browser(folders, capsys):
    from mmsim.analysis.report import _num

    cmp = folders["cmp"]
    assert main(["report", str(cmp)]) == 0
    assert "report.html" in capsys.readouterr().out
    html = cmp / "report.html"
    text = html.read_text(encoding="utf-8")
    _no_network(text)
    # the order of the page: the answer first, the first path's time panels last
    order = ['id="verdict"', "Savings vs latency", "Break-even feed latency", "Headline: pooled savings",
             "Where the AS saving comes from", "Rules", "Markout curves (pooled", "AS saving vs horizon",
             "Per-path table", "First path only", "Cumulative PnL decomposition", "Inventory",
             "Fills on the price path", "Settings"]
    pos = [text.find(s) for s in order]
    assert all(p >= 0 for p in pos), [s for s, p in zip(order, pos) if p < 0]
    assert pos == sorted(pos), "sections out of order"
    for s in ("feed_latency", "maker_fee_bps", "toxic_burst", "symmetric:half_spread=2", "quote currency per path",
              "ticks per lot", "the shortest horizon", "given by --block"):
        assert s in text, s
    assert text.count("data:image/png;base64,") >= 6   # sweep, markouts, AS vs horizon, decomposition, inventory, price
    assert "No sweep available" not in text and "clairvoyant" not in text   # no bound section: nothing said
    assert "UNMATCHED" not in text and 'id=model-warning' not in text
    _tables_scroll(text)
    doc = json.loads((cmp / "compare.json").read_text())
    net = doc["estimates"]["net_pnl_difference"]
    sweep = json.loads((cmp / "sweep" / "sweep.json").read_text())

    shot = folders["root"] / "compare.png"
    dom, err = _browse(html, shot)
    _check_png(shot)
    assert 'data-rendered="1"' in dom, "the page's load handler did not run"
    m = re.search(r'<pre id="errors">(.*?)</pre>', dom, re.S)
    assert m is not None and m.group(1).strip() == "", f"page recorded errors: {m and m.group(1)}"
    assert not _console_errors(err), _console_errors(err)
    # the verdict is the first thing after the title: the net estimate with its interval, the break-even
    tag, attrs, verdict = _after_title(dom)
    assert tag == "div" and attrs.get("id") == "verdict", (tag, attrs)
    assert f"Net saving {_num(net['estimate'])} per path [{_num(net['ci_low'])}, {_num(net['ci_high'])}]" in verdict
    assert f"{doc['n_paths']} paths" in verdict and "quote currency per path" in verdict
    assert sweep["break_even"][0]["status"] in verdict
    # the savings-vs-latency figure on a log latency axis, the markout and AS-vs-horizon figures too
    for fig in ("fig-sweep", "fig-markouts", "fig-as-horizon"):
        m = re.search(rf'<img [^>]*id="{fig}"[^>]*>', dom)
        assert m and 'data-xscale="log"' in m.group(0), fig
    # the per-path table: one row per path, scrolling
    m = re.search(r'<div class="scroll tall"><table id="paths-table">(.*?)</table>', dom, re.S)
    assert m, "per-path table missing or not scrolling"
    assert m.group(1).count("<tr") == 1 + doc["n_paths"]
    for row in doc["paths"]:
        assert f">{row['path']}<" in m.group(1)


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


def _copy_compare(folders, dest: Path, edit) -> Path:
    """A copy of the compare folder (its sweep too) whose compare.json is passed through ``edit``."""
    shutil.copytree(folders["cmp"], dest, ignore=shutil.ignore_patterns("report.html", "points"))
    doc = json.loads((dest / "compare.json").read_text())
    edit(doc)
    (dest / "compare.json").write_text(json.dumps(doc))
    return dest


def test_unmatched_model_and_bound_at_the_top(folders, tmp_path):
    """UNMATCHED ARMS, a model no better than chance and a clairvoyant bound all show in or right under the
    verdict, and the page still renders cleanly."""
    def edit(doc):
        doc["unmatched"] = True
        doc["warnings"] = ["UNMATCHED ARMS (max_position 0 vs 5): the difference includes the effect of the "
                           "different limits", "the model is no better than chance out of sample (pooled "
                           "out-of-sample R² -0.010, AUC 0.500): a saving here comes from something other than "
                           "prediction"] + doc["warnings"]
        doc["model_quality"] = {"verdict": "no better than chance", "reason": "pooled out-of-sample R² -0.010, "
                                "AUC 0.500", "out_of_sample": {"r2": -0.01, "auc": 0.5, "hit_rate": 0.49, "n": 1200},
                                "trained_on": "toxic_burst_train"}
        doc["bound"] = {"share_of_bound": {"estimate": 0.42, "ci_low": 0.3, "ci_high": 0.55, "se": 0.06},
                        "oracle": "oracle:horizon=1s,half_spread=1"}
        doc["paths"][1]["disagrees"] = True

    d = _copy_compare(folders, tmp_path / "flagged", edit)
    # a sweep whose net saving crosses zero: the break-even (and its open-ended interval) is drawn and quoted
    sw = json.loads((d / "sweep" / "sweep.json").read_text())
    sw["break_even"][0].update(status="pays up to 5 ms [1 ms, > 10ms]", break_even_ns=5e6,
                               break_even_ci_ns=[1e6, None])
    (d / "sweep" / "sweep.json").write_text(json.dumps(sw))
    assert main(["report", str(d)]) == 0
    html = d / "report.html"
    text = html.read_text(encoding="utf-8")
    _no_network(text)
    _tables_scroll(text)
    dom, err = _browse(html, None)
    assert 'data-rendered="1"' in dom and re.search(r'<pre id="errors">\s*</pre>', dom)
    assert not _console_errors(err), _console_errors(err)
    tag, attrs, verdict = _after_title(dom)
    assert attrs.get("id") == "verdict"
    assert verdict.lstrip().startswith("UNMATCHED ARMS")             # the badge opens the verdict line
    assert "42 % of the clairvoyant bound [30 %, 55 %]" in verdict
    assert "stops paying: pays up to 5 ms [1 ms, > 10ms]" in verdict
    assert "model quality: ⚠ no better than chance" in verdict and "AUC 0.500" in verdict
    # the banner and the model warning come right after the verdict, before anything else
    v = dom.index('id="verdict"')
    banner, warn, sweep = dom.index('id="unmatched"'), dom.index('id="model-warning"'), dom.index("Savings vs latency")
    assert v < banner < warn < sweep
    assert "UNMATCHED ARMS (max_position 0 vs 5)" in dom[banner:warn]
    assert dom.count("UNMATCHED ARMS (max_position") == 1       # not repeated in the warnings list
    # the flagged path is highlighted in the per-path table, and counted under it
    table = re.search(r'<table id="paths-table">(.*?)</table>', dom, re.S).group(1)
    flagged = re.findall(r'<tr class="flagged">(.*?)</tr>', table, re.S)
    assert len(flagged) == 1 and ">seed 2<" in flagged[0] and "disagrees" in flagged[0]
    assert "1 of 3</b> path(s) flagged" in dom
    # a bare share (a number) is shown too, from sweep.json as well; a bound with nothing readable says nothing
    from mmsim.analysis.report import _bound

    assert "25 % of the clairvoyant bound" in re.sub(r"<[^>]+>", "", _bound([{}, {"bound": {"share_of_bound": 0.25}}]))
    assert _bound([{"bound": {"something": "else"}}, None]) is None and _bound([{}, {}]) is None


def test_older_compare_and_sweep_json_still_render(folders, tmp_path):
    """A compare.json without the pooled keys (one path, as mmsim wrote it before) and an old sweep.json: the
    page is built from what is there; the missing parts are left out or fall back to the first path."""
    def edit(doc):
        for k in ("n_paths", "paths", "markout_curves", "as_saving_vs_horizon", "as_saving_split", "horizon_rule",
                  "block_rule", "first_path", "model_quality", "unmatched", "strategies", "verdict", "horizon_ns"):
            doc.pop(k, None)
        for k in ("inventory_difference", "fees_difference"):
            doc["estimates"].pop(k, None)

    d = _copy_compare(folders, tmp_path / "old", edit)
    (d / "paths.parquet").unlink()
    sw = json.loads((d / "sweep" / "sweep.json").read_text())
    sw["break_even"] = [{"compute_latency": "0", "break_even_feed_latency": "10ms",
                         "net_saving_at_lowest_latency": 1.0}]
    for k in ("n_paths", "horizon_rule", "block_rule", "model_quality"):
        sw.pop(k, None)
    (d / "sweep" / "sweep.json").write_text(json.dumps(sw))
    from mmsim.analysis.report import build_report

    text = build_report(d)
    assert 'id="verdict"' in text and "one path" in text and "break-even at 10ms" in text
    assert "No per-path table" in text and "Markout curves (first path)" in text
    assert "AS saving vs horizon" not in text and "Where the AS saving" not in text
    _tables_scroll(text)


def test_explicit_sweep_and_run_folder(folders, tmp_path):
    from mmsim.analysis.report import build_report

    text = build_report(folders["empty"], sweep=folders["cmp"] / "sweep")
    assert "Break-even feed latency" in text and "No sweep available" not in text
    assert "THE SWEEP IS ANOTHER EXPERIMENT" in text and "half_spread=1000" in text   # named, not passed off
    assert "ANOTHER EXPERIMENT" not in build_report(folders["cmp"])                   # its own sweep: no warning
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


def test_a_sweep_of_the_same_scenario_file_is_not_another_experiment():
    """compare records the scenario's name, sweep the scenario as typed (a path): the sweep's recorded name
    decides, so a sweep of `amzn_pm.toml` (name amzn_afternoon) matches its compare."""
    from mmsim.analysis.report import _sweep_mismatch

    cmp_ = {"scenario": "amzn_afternoon", "strategies": {"baseline": "symmetric", "treated": "skew_pull"}}
    spec = {"scenario": "examples/real/amzn_pm.toml", "baseline": "symmetric", "treated": "skew_pull"}
    assert _sweep_mismatch(cmp_, {"meta": {"spec": spec, "scenario_name": "amzn_afternoon"}}) == []
    other = _sweep_mismatch(cmp_, {"meta": {"spec": spec, "scenario_name": "amzn_morning"}})
    assert other and "amzn_morning" in other[0]
