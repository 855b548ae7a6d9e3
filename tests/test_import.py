"""`vlmrun import`: a VLMEvalKit predictions file joins a work dir's merged report."""
import csv
import json

import pandas as pd
import pytest

from vlmrun.datasets import read_tsv

from .conftest import ROOT, run_cli


def _predictions(tmp_path, suffix=".xlsx", right=28, drop=0):
    """MME-mini in VLMEvalKit's predictions layout: the first `right` rows answered correctly, the rest wrong."""
    rows = read_tsv(ROOT / "data" / "MME-mini.tsv")[drop:]
    flip = {"Yes": "No", "No": "Yes"}
    df = pd.DataFrame([{"index": int(r["index"]), "question": r["question"], "answer": r["answer"],
                        "category": r["category"], "image_path": r["image_path"], "prediction": r["answer"] if k < right else flip[r["answer"]]}
                       for k, r in enumerate(rows)])
    path = tmp_path / f"OtherModel_MME-mini{suffix}"
    if suffix == ".xlsx":
        df.to_excel(path, index=False, engine="openpyxl")
    else:
        df.to_csv(path, sep="\t", index=False)
    return path


def test_imported_file_is_scored_and_joins_the_report(tmp_path):
    work = tmp_path / "work"
    out = run_cli("import", str(_predictions(tmp_path)), "--model", "OtherModel", "--bench", "MME-mini",
                  "--work-dir", str(work))
    assert out.returncode == 0, out.stdout[-2000:]
    prov = json.loads((work / "OtherModel" / "MME-mini" / "provenance.json").read_text())
    assert prov["backend"] == "import" and len(prov["imported"]["sha256"]) == 64 and prov["imported"]["rows"] == 56
    assert prov["model"] == {"name": "OtherModel", "in_catalogue": False}
    with open(work / "report.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["Model"] == "OtherModel" and float(row["Perception"]) > 0
    # the runs table and the provenance say where the row came from
    md, page = (work / "report.md").read_text(), (work / "report.html").read_text()
    assert "| OtherModel | MME-mini | imported |" in md and "imported: OtherModel_MME-mini.xlsx (sha256 " in md
    assert f"OtherModel · MME-mini — imported from {tmp_path / 'OtherModel_MME-mini.xlsx'}" in page
    # the same answers scored directly give the same numbers
    direct = json.loads(run_cli("score", "--bench", "MME-mini", "--predictions", str(_predictions(tmp_path)),
                                "--json").stdout)
    assert float(row["Perception"]) == pytest.approx(direct["perception"])


def test_tsv_works_too_and_a_second_import_is_a_second_row(tmp_path):
    work = tmp_path / "work"
    assert run_cli("import", str(_predictions(tmp_path)), "-m", "A", "-b", "MME-mini", "-w", str(work)).returncode == 0
    out = run_cli("import", str(_predictions(tmp_path, ".tsv", right=56)), "-m", "B", "-b", "MME-mini", "-w", str(work))
    assert out.returncode == 0, out.stdout[-2000:]
    with open(work / "report.csv") as f:
        assert sorted(r["Model"] for r in csv.DictReader(f)) == ["A", "B"]


def _corrupt(path):
    path.write_bytes(b"PK\x03\x04 not really a zip")
    return path


@pytest.mark.parametrize("make, args, message", [
    (lambda p: _predictions(p, drop=3), [], "does not match MME-mini: 3 of its 56 rows have no prediction"),
    (lambda p: _corrupt(p / "x.xlsx"), [], "could not be read as a predictions .xlsx file"),
    (lambda p: _predictions(p), ["--model", "../evil"], "--model '../evil': use letters, digits"),
])
def test_bad_imports_are_one_line(tmp_path, make, args, message):
    path = make(tmp_path)
    out = run_cli("import", str(path), "--model", "M", "--bench", "MME-mini", "--work-dir", str(tmp_path / "w"), *args)
    assert out.returncode != 0 and message in " ".join(out.stdout.split()) and "Traceback" not in out.stdout


def test_score_of_a_corrupt_xlsx_is_one_line(tmp_path):
    out = run_cli("score", "--bench", "MME-mini", "--predictions", str(_corrupt(tmp_path / "p.xlsx")))
    assert out.returncode != 0 and "could not be read as a predictions .xlsx file (BadZipFile" in out.stdout
    assert "Traceback" not in out.stdout
