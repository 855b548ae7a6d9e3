"""The vLLM engine: everything that can be checked without a GPU (plan, request, prompts, lock).
The engine itself only runs where a GPU is; see the closing note of the issue for what is unverified there."""
import pytest

from vlmrun.gpus import parse_gpus
from vlmrun.container import docker_job_request
from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan
from vlmrun_worker.adapters import vllm_chat

from .conftest import ROOT


def test_vllm_jobs_use_the_vllm_flavour_one_process_and_tensor_parallel(tmp_path):
    cat = Catalogue()
    (job,) = make_plan(cat, ["qwen2-vl-2b"], ["MME"], tmp_path, gpus=parse_gpus("0,1"), engine="vllm")
    assert (job.flavour, job.nproc, job.engine) == ("vllm", 1, "vllm")
    req, payload = docker_job_request(job, "img", tmp_path / "MME.tsv", tmp_path / "w")
    assert req.command == ["python", "-m", "vlmrun_worker", "run", "/vlmrun/out/job.json"]
    assert payload["engine"] == "vllm" and payload["tensor_parallel_size"] == 2
    assert req.docker_kwargs()["device_requests"][0]["DeviceIDs"] == ["0", "1"]


def test_vllm_needs_gpus_and_a_model_that_supports_it(tmp_path):
    cat = Catalogue()
    with pytest.raises(VlmrunError, match="the vLLM engine runs on GPUs only: add --gpus"):
        make_plan(cat, ["qwen2-vl-2b"], ["MME"], tmp_path, engine="vllm")
    with pytest.raises(VlmrunError, match=r"model tiny-internvl does not run on the vllm engine .*engines: hf"):
        make_plan(cat, ["tiny-internvl"], ["MME"], tmp_path, gpus=parse_gpus("all"), engine="vllm")


def test_vllm_prompts_and_image_settings_match_the_transformers_adapters():
    cat = Catalogue()
    qwen = cat.model("qwen2-vl-2b").model_dump(mode="json")
    assert vllm_chat.messages("qwen2_vl", "Is it red?", qwen) == [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Is it red?"}]}]
    assert vllm_chat.mm_processor_kwargs("qwen2_vl", qwen) == {"min_pixels": 1003520, "max_pixels": 12845056}
    ivl = {**cat.model("internvl2-2b").model_dump(mode="json"), "bench": "MME", "bench_type": "yorn"}
    assert vllm_chat.messages("internvl_chat", "Is it red? Please answer yes or no.", ivl) == [
        {"role": "user", "content": "<image>\nIs it red? Please answer yes or no. "
                                    "Answer the question using a single word or phrase."}]
    assert vllm_chat.mm_processor_kwargs("internvl_chat", ivl) == {"max_dynamic_patch": 6}
    args = vllm_chat.engine_args("/vlmrun/model", {**ivl, "tensor_parallel_size": 2})
    assert args["trust_remote_code"] is True and args["tensor_parallel_size"] == 2
    assert args["dtype"] == "bfloat16" and args["limit_mm_per_prompt"] == {"image": 8}  # MMMU rows hold several images


def test_vllm_flavour_is_pinned():
    lock = (ROOT / "images" / "locks" / "transformers-latest" / "vllm.txt").read_text()
    assert "vllm==0.33.0 \\" in lock and "torch==2.14.0 \\" in lock
    pins = [l for l in lock.splitlines() if l and not l.startswith((" ", "#"))]
    assert len(pins) == lock.count("--hash=sha256:") > 100  # every wheel pinned with its hash
