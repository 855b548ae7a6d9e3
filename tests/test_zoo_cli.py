"""`vlmrun models list` (grouped by family, with what each model needs) and `vlmrun models add --like`."""
import json

import yaml

from .conftest import run_cli


def test_models_list_groups_by_family_and_shows_needs():
    out = run_cli("models", "list", "--json")
    assert out.returncode == 0, out.stdout
    rows = json.loads(out.stdout)
    families = [r["family"] for r in rows]
    assert families == sorted(families[: len([f for f in families if not f.startswith("(API")])]) + \
        [f for f in families if f.startswith("(API")]
    by = {r["name"]: r for r in rows}
    assert by["idefics-80b-instruct"]["gpus_80gb"] == 3 and by["idefics-80b-instruct"]["weights_gib"] == 149.0
    assert by["internvl2-2b"]["remote_code"] is True and by["qwen2-vl-2b"]["remote_code"] is False
    assert by["qwen-vl-chat"]["cpu"] is False and by["tiny-qwen-vl-chat"]["cpu"] is True  # torchvision: GPUs only
    assert by["gpt-4o"]["gpus_80gb"] == 0 and by["gpt-4o"]["source"].startswith("api:https://api.openai.com")


def test_models_add_writes_a_manifest_like_a_known_model(project_copy):
    env = {"VLMRUN_HOME": str(project_copy)}
    out = run_cli("models", "add", "OpenGVLab/InternVL2-Llama3-76B", "--like", "internvl2-8b", "--params-b", "76.3",
                  "--revision", "a" * 40, env=env)
    assert out.returncode == 0, out.stdout
    m = yaml.safe_load((project_copy / "manifests" / "models" / "internvl2-llama3-76b.yaml").read_text())
    base = yaml.safe_load((project_copy / "manifests" / "models" / "internvl2-8b.yaml").read_text())
    assert m["source"] == {"hub": "OpenGVLab/InternVL2-Llama3-76B", "revision": "a" * 40, "trust_remote_code": True}
    assert {k: m[k] for k in ("family", "adapter", "processor", "generation", "dtype")} == \
        {k: base[k] for k in ("family", "adapter", "processor", "generation", "dtype")}
    assert m["reference"].startswith("as internvl2-8b: vlmevalkit e8e78f05") and m["params_b"] == 76.3
    listed = {r["name"]: r for r in json.loads(run_cli("models", "list", "--json", env=env).stdout)}
    # 76.3 B bf16 weights (142 GiB) with 20 % headroom: three GPUs of 80 GB
    assert listed["internvl2-llama3-76b"]["gpus_80gb"] == 3
    assert listed["internvl2-llama3-76b"]["family"] == "transformers-4.37"
    again = run_cli("models", "add", "OpenGVLab/InternVL2-Llama3-76B", "--like", "internvl2-8b", env=env)
    assert again.returncode == 2 and "exists already" in again.stdout and "Traceback" not in again.stdout
    bad = run_cli("models", "add", "OpenGVLab/X", "--like", "tiny-internvl", env=env)
    assert bad.returncode == 2 and "name a model with real weights" in bad.stdout
