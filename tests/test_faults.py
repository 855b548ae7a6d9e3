"""Faults that must end in one line, with nothing finished lost: bad benchmark files and manifests (also as
property-based tests: any input gives a result or a one-line error), a full disk, corrupt weights, a job
killed by its memory limit. benchmarks/faults.py runs the whole list and prints a table."""
import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from vlmrun.datasets import bench_rows
from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue

from .conftest import ROOT, run_cli

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.binary(max_size=600))
def test_any_tsv_bytes_give_rows_or_one_line(tmp_path, data):
    path = tmp_path / "x.tsv"
    path.write_bytes(data)
    try:
        rows = bench_rows(path)
    except VlmrunError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    else:
        assert isinstance(rows, list)


@SETTINGS
@given(st.text(max_size=400))
def test_any_manifest_text_gives_a_catalogue_or_one_line(project_copy, text):
    (project_copy / "manifests" / "models" / "fuzz.yaml").write_text(text, encoding="utf-8")
    try:
        cat = Catalogue(project_copy)
    except VlmrunError as e:
        assert "\n" not in str(e) and "fuzz.yaml" in str(e)
    else:
        assert "fuzz" in cat.models or not text.strip()


@SETTINGS
@given(st.dictionaries(st.sampled_from(["name", "family", "adapter", "source", "dtype", "generation", "batch_size",
                                        "processor", "references", "extra"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=3),
                                 st.dictionaries(st.text(max_size=8), st.integers(), max_size=3)), max_size=8))
def test_any_manifest_fields_give_a_catalogue_or_one_line(project_copy, fields):
    import yaml

    (project_copy / "manifests" / "models" / "fuzz.yaml").write_text(yaml.safe_dump(fields))
    try:
        Catalogue(project_copy)
    except VlmrunError as e:
        assert "\n" not in str(e)


@pytest.mark.parametrize("file", ["../../etc/passwd", "/etc/passwd", "data/../../secret.tsv", "~/x.tsv"])
def test_benchmark_files_outside_the_project_are_rejected(project_copy, file):
    (project_copy / "manifests" / "benchmarks" / "EVIL.yaml").write_text(
        f"name: EVIL\ntype: yorn\nscorer: mme\nfile: {file}\nbundled: true\n")
    with pytest.raises(VlmrunError, match="must be a relative path inside the project"):
        Catalogue(project_copy)


def test_a_tsv_without_the_question_column_fails_before_any_container(project_copy, tmp_path):
    rows = (ROOT / "data" / "MME-mini.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    keep = [i for i, c in enumerate(header) if c != "question"]
    (project_copy / "data" / "NOQ.tsv").write_text(
        "\n".join("\t".join(r.split("\t")[i] for i in keep) for r in rows[:5]) + "\n")
    (project_copy / "manifests" / "benchmarks" / "NOQ.yaml").write_text(
        "name: NOQ\ntype: yorn\nscorer: mme\nfile: data/NOQ.tsv\nbundled: true\n")
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "NOQ", "--work-dir", str(tmp_path / "w"),
                  env={"VLMRUN_HOME": str(project_copy)})
    assert out.returncode == 2 and "Traceback" not in out.stdout
    assert out.stdout.strip().splitlines()[-1].startswith("error: ") and "has no question column" in out.stdout


@pytest.mark.docker
@pytest.mark.skipif(os.getuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_is_one_line_and_the_same_command_resumes(tmp_path):
    work = tmp_path / "small"
    work.mkdir()
    # 64k: room for the job's container outputs, not for the merged report (72k also fills; 96k no longer does since
    # the report's charts are SVG, much smaller than the PNGs were)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(work)], check=True)
    try:
        os.chmod(work, 0o777)
        out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--work-dir", str(work))
        assert out.returncode == 1 and "Traceback" not in out.stdout, out.stdout[-3000:]
        line = out.stdout.strip().splitlines()[-1]
        assert line.startswith("error: No space left on device writing ") and "the same command resumes" in line
        subprocess.run(["mount", "-o", "remount,size=64m", str(work)], check=True)
        again = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--work-dir", str(work))
        assert again.returncode == 0, again.stdout[-3000:]
        assert (work / "report.html").is_file() and not list(work.glob(".*tmp*"))  # no half-written file
    finally:
        subprocess.run(["umount", "-l", str(work)])


@pytest.mark.docker
def test_corrupt_weights_are_one_line_saying_what_to_do(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(cache, 0o777)
    env = {"VLMRUN_CACHE": str(cache)}
    wheelhouse = os.path.expanduser("~/.cache/vlmrun/wheelhouse")
    if os.path.isdir(wheelhouse):
        os.symlink(wheelhouse, cache / "wheelhouse")
    first = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--limit", "2", "--work-dir", str(tmp_path / "a"),
                    env=env)
    assert first.returncode == 0, first.stdout[-2000:]
    (weights,) = list((cache / "tiny" / "tiny-qwen2-vl").glob("*/model.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3])
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--limit", "2", "--work-dir", str(tmp_path / "b"),
                  env=env)
    assert out.returncode == 1 and "Traceback" not in out.stdout
    assert f"the weights in {weights.parent} look damaged: delete that folder and the tiny model is made again" in out.stdout
    shutil.rmtree(weights.parent)
    assert run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--limit", "2", "--work-dir", str(tmp_path / "c"),
                   env=env).returncode == 0


@pytest.mark.docker
def test_a_job_killed_by_its_memory_limit_says_what_to_lower(tmp_path):
    out = run_cli("eval", "tiny-internvl", "--bench", "MME-mini", "--memory", "150m", "--work-dir", str(tmp_path))
    assert out.returncode == 1 and "Traceback" not in out.stdout
    assert ("failed tiny-internvl_MME-mini: worker failed (killed by the memory limit (OOMKilled): lower "
            "--batch-size or --prefetch, or raise --memory)") in out.stdout
