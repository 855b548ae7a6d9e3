"""Bad input gets one clear line that says what to do, never a traceback (the real CLI, as a subprocess)."""
import pytest

from .conftest import run_cli


def _one_line_error(out):
    assert out.returncode == 2, out.stdout
    assert "Traceback" not in out.stdout
    lines = [l for l in out.stdout.strip().splitlines() if l.strip()]
    assert len(lines) == 1, out.stdout
    assert lines[0].startswith("error: ")
    return lines[0]


def test_unknown_model_lists_valid_names():
    line = _one_line_error(run_cli("eval", "llava-99b", "--bench", "MME-mini"))
    assert "unknown model 'llava-99b'; valid models: " in line
    from vlmrun.manifest import Catalogue

    assert line.split("valid models: ")[1].split(", ") == sorted(Catalogue().models)  # every one, in order


def test_unknown_bench_lists_valid_names():
    line = _one_line_error(run_cli("eval", "tiny-qwen2-vl", "--bench", "MMMU"))
    assert "unknown benchmark 'MMMU'; valid benchmarks: AI2D_TEST, ChartQA_TEST," in line and "MME, MME-mini" in line


def test_invalid_manifest(project_copy):
    (project_copy / "manifests" / "models" / "tiny-qwen2-vl.yaml").write_text(
        "name: tiny-qwen2-vl\nfamily: transformers-latest\nadapter: qwen2_vl\nsource: {tiny: qwen2_vl}\nbatch_size: -3\n")
    line = _one_line_error(run_cli("models", "list", env={"VLMRUN_HOME": str(project_copy)}))
    assert "tiny-qwen2-vl.yaml: field 'batch_size'" in line


def test_docker_engine_unreachable_says_how_to_start_it(tmp_path):
    line = _one_line_error(run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--work-dir", str(tmp_path),
                                   env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}))
    assert "Docker engine not reachable at unix:///nonexistent/docker.sock" in line
    assert "dockerd" in line


def test_missing_data_file(tmp_path):
    line = _one_line_error(run_cli("eval", "tiny-qwen2-vl", "--bench", "MME", "--work-dir", str(tmp_path),
                                   env={"LMUData": str(tmp_path)}))
    assert "data file for MME not found: run `vlmrun data fetch MME` (downloads https://opencompass.openxlab.space/utils/VLMEval/MME.tsv" in line


@pytest.mark.parametrize("args, text", [
    (["--gpus", "lots"], "--gpus 'lots' is not understood"),
    (["--mode", "both"], "--mode 'both': use one of all, infer, eval"),
    (["--nproc", "0"], "--nproc must be at least 1"),
])
def test_bad_options(tmp_path, args, text):
    line = _one_line_error(run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--work-dir", str(tmp_path), *args))
    assert text in line


def test_dry_run_prints_the_container_request(tmp_path):
    out = run_cli("eval", "tiny-qwen2-vl", "--bench", "MME-mini", "--gpus", "0,1", "--dry-run", "--work-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout
    assert "--network=none" in out.stdout and '--gpus="device=0,1"' in out.stdout
    assert "python -m vlmrun_worker launch 2 /vlmrun/out/job.json" in out.stdout  # two ranks, one container
