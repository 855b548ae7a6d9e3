"""The report: summary, comparisons, reference deltas, every format, and the HTML page in a real browser."""
import json
import os
import shutil

import pandas as pd
import pytest

from vlmrun.datasets import read_tsv
from vlmrun.manifest import Catalogue
from vlmrun.predictions import write_xlsx
from vlmrun.report import compare, reference_deltas, score_tables, summary_table

from .conftest import ROOT, run_cli

SUBTASKS = ["existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR",
            "commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning"]


def _table(rows, bench="MME"):
    """Tables as `eval` builds them, from provenance records of the MME scorer."""
    records = []
    for r in rows:
        scores = {("perception" if k == "Perception" else "reasoning" if k == "Reasoning" else k): v
                  for k, v in r.items() if k != "Model"}
        if "perception" in scores and "reasoning" in scores:
            scores["overall"] = scores["perception"] + scores["reasoning"]
        records.append({"model": {"name": r["Model"]}, "benchmark": {"name": bench, "scorer": "mme"},
                        "scores": scores})
    return score_tables(records)[bench]


def test_comparison_says_who_leads_where_and_by_how_much():
    a = {"Model": "A", "Perception": 1467.74, "Reasoning": 411.79, **{s: 100.0 for s in SUBTASKS}}
    b = {"Model": "B", "Perception": 1452.86, "Reasoning": 420.71, **{s: 100.0 for s in SUBTASKS}}
    a["celebrity"], b["celebrity"] = 150.0, 120.0
    b["count"], b["OCR"] = 130.0, 101.0
    text = compare(_table([a, b]), "A", "B")
    assert text == ("A leads on Perception by 14.88 (1467.74 vs 1452.86); B leads on Reasoning by 8.92 (420.71 vs "
                    "411.79); A leads in 1 of 14 subtasks, most in celebrity (+30.00); B leads in 2 of 14 subtasks, "
                    "most in count (+30.00), OCR (+1.00); 11 subtasks tie.")
    summary = summary_table({"MME": _table([a, b])})
    assert summary.loc["A", "MME"] == pytest.approx(1879.53) and summary.loc["B", "MME"] == pytest.approx(1873.57)


def test_reference_deltas_come_from_the_model_manifests():
    tables = {"MME": _table([{"Model": "qwen2-vl-2b", "Perception": 1470.0, "Reasoning": 400.0}]),
              "MME-mini": _table([{"Model": "qwen2-vl-2b", "Perception": 10.0, "Reasoning": 5.0}], "MME-mini")}
    notes = reference_deltas(tables, Catalogue())
    assert tables["MME"].loc["qwen2-vl-2b", "Δ Perception"] == pytest.approx(2.26)
    assert tables["MME"].loc["qwen2-vl-2b", "Δ Reasoning"] == pytest.approx(-11.79)
    assert "Δ Perception" not in tables["MME-mini"].columns  # references apply to their own benchmark only
    assert notes["MME"][0]["source"].startswith("seed evaluation")


@pytest.fixture(scope="module")
def scored_workdir(tmp_path_factory):
    """Two models' predictions on MME-mini with different mistakes, scored by `eval --mode eval`."""
    work = tmp_path_factory.mktemp("report")
    rows = pd.DataFrame(read_tsv(ROOT / "data" / "MME-mini.tsv")).drop(columns=["image"])
    flip = {"Yes": "No", "No": "Yes"}
    for model, wrong in (("tiny-qwen2-vl", rows.index % 5 == 0), ("tiny-internvl", rows.index % 3 == 0)):
        preds = rows.assign(prediction=[flip[a] if w else a for a, w in zip(rows["answer"], wrong)])
        run_dir = work / model / "MME-mini"
        run_dir.mkdir(parents=True)
        write_xlsx(preds, run_dir / f"{model}_MME-mini.xlsx")
    out = run_cli("eval", "tiny-qwen2-vl", "tiny-internvl", "--bench", "MME-mini", "--mode", "eval",
                  "--work-dir", str(work))
    assert out.returncode == 0, out.stdout
    return work


def test_report_command_writes_every_format(scored_workdir):
    out = run_cli("report", str(scored_workdir), "--format", "csv,md,xlsx,json,html")
    assert out.returncode == 0, out.stdout
    for name in ("report.csv", "summary.csv", "report.md", "report.xlsx", "report.json", "report.html"):
        assert (scored_workdir / name).is_file(), name
    doc = json.loads((scored_workdir / "report.json").read_text())
    assert set(doc["benchmarks"]["MME-mini"]) == {"tiny-qwen2-vl", "tiny-internvl"}
    assert doc["summary"]["tiny-qwen2-vl"]["MME-mini"] > doc["summary"]["tiny-internvl"]["MME-mini"]
    assert doc["comparisons"]["MME-mini"].startswith("tiny-qwen2-vl leads on Perception by")
    sheets = pd.read_excel(scored_workdir / "report.xlsx", sheet_name=None)
    assert {"summary", "MME-mini"} <= set(sheets)
    md = (scored_workdir / "report.md").read_text()
    assert "## Summary" in md and "tiny-qwen2-vl leads on" in md
    # random-weight models are named as such under the summary, in the markdown and the page
    caveat = "tiny-internvl, tiny-qwen2-vl: random weights, built from a config (DEMO/TEST models): their scores are chance level"
    assert caveat in md and caveat in (scored_workdir / "report.html").read_text()
    bad = run_cli("report", str(scored_workdir), "--format", "pdf")
    assert bad.returncode == 2 and "unknown report format(s) ['pdf']" in bad.stdout


def test_html_report_in_a_real_browser(scored_workdir, tmp_path):
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_bin):
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium and chromedriver: scripts/setup.sh --test installs them")
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.common.by import By

    assert run_cli("report", str(scored_workdir), "--format", "html").returncode == 0
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1800"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=driver_bin))
    try:
        driver.get((scored_workdir / "report.html").as_uri())
        assert driver.title == "vlmrun report"
        rows = driver.find_elements(By.CSS_SELECTOR, "#table-MME-mini tbody tr")
        assert sorted(r.find_element(By.TAG_NAME, "th").text for r in rows) == ["tiny-internvl", "tiny-qwen2-vl"]
        assert len(driver.find_elements(By.CSS_SELECTOR, "#summary tbody tr")) == 2
        charts = driver.find_elements(By.CSS_SELECTOR, "img.chart")
        assert len(charts) == 2
        assert all(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 400", c)
                   for c in charts)
        # a score is one click from its provenance
        cell = driver.find_element(By.CSS_SELECTOR, "#table-MME-mini tbody tr td a")
        target = cell.get_attribute("href").split("#")[1]
        cell.click()
        prov = driver.find_element(By.ID, target)
        assert prov.get_attribute("open") == "true" and "MME-mini" in prov.text
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
        driver.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()


def test_the_batch_column_shows_a_batch_the_worker_grew():
    from vlmrun.report import _batch

    assert _batch(8, 64) == "8→64"
    assert _batch(8, 8) == "8" and _batch(8, None) == "8" and _batch("", None) == ""
