"""The CUDA flavour each family gets for a host's NVIDIA driver, from recorded nvidia-smi outputs, and one line
naming the family, the CUDA it needs, the driver found and what to do when none fits."""
import pytest

from vlmrun.cuda import choose_flavour, cuda_flavours, parse_driver
from vlmrun.errors import VlmrunError
from vlmrun.gpus import parse_gpus
from vlmrun.manifest import Catalogue
from vlmrun.plan import make_plan

# what the drivers print (nvidia-smi --query-gpu=driver_version --format=csv,noheader; the banner; /proc)
QUERY_535 = "535.104.05\n535.104.05\n"
BANNER_550 = ("+---------------------------------------------------------------------------------------+\n"
              "| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15    CUDA Version: 12.4     |\n")
PROC_580 = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.82.07  Fri Aug 29 00:00:00 UTC 2025\nGCC version:  gcc 12\n"
QUERY_470 = "470.256.02\n"
QUERY_418 = "418.226.00\n"


def test_driver_versions_are_read_from_every_output():
    assert parse_driver(QUERY_535) == (535, 104, 5)
    assert parse_driver(BANNER_550) == (550, 54, 15)
    assert parse_driver(PROC_580) == (580, 82, 7)
    assert parse_driver("no driver here") is None


def test_the_locks_say_which_cuda_each_flavour_needs():
    cat = Catalogue()
    assert cuda_flavours(cat, "transformers-latest") == {"cuda": (13, 0), "cuda12": (12, 8)}
    assert cuda_flavours(cat, "transformers-4.40") == {"cuda": (12, 1)}
    assert cuda_flavours(cat, "transformers-4.48") == {"cuda": (12, 4)}
    assert cuda_flavours(cat, "transformers-4.37") == {"cuda": (12, 1)}
    assert cuda_flavours(cat, "transformers-4.33") == {"cuda": (11, 7)}


@pytest.mark.parametrize("output,expected", [
    (PROC_580, {"transformers-latest": "cuda", "transformers-4.40": "cuda", "transformers-4.37": "cuda",
                "transformers-4.33": "cuda"}),
    (BANNER_550, {"transformers-latest": "cuda12", "transformers-4.40": "cuda", "transformers-4.37": "cuda",
                  "transformers-4.33": "cuda"}),
    (QUERY_535, {"transformers-latest": "cuda12", "transformers-4.40": "cuda", "transformers-4.37": "cuda",
                 "transformers-4.33": "cuda"}),
    (QUERY_470, {"transformers-latest": None, "transformers-4.40": None, "transformers-4.37": None,
                 "transformers-4.33": "cuda"}),
    (QUERY_418, {"transformers-latest": None, "transformers-4.40": None, "transformers-4.37": None,
                 "transformers-4.33": None}),
])
def test_decision_table(output, expected):
    cat = Catalogue()
    driver = ".".join(map(str, parse_driver(output)))
    for family, flavour in expected.items():
        if flavour:
            assert choose_flavour(cat, family, driver) == flavour, (family, driver)
        else:
            with pytest.raises(VlmrunError) as e:
                choose_flavour(cat, family, driver)
            msg = str(e.value)
            assert msg.startswith(f"family {family} needs CUDA ") and f"this host's driver is {driver}" in msg
            assert "upgrade the driver, or leave out --gpus" in msg and "\n" not in msg


def test_the_plan_picks_the_flavour_and_records_the_driver(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMRUN_NVIDIA_DRIVER", "535.104.05")
    cat = Catalogue()
    jobs = make_plan(cat, ["qwen2-vl-2b", "internvl2-2b"], ["MME"], tmp_path, gpus=parse_gpus("all"))
    assert {(j.model.name, j.flavour, j.driver) for j in jobs} == {("qwen2-vl-2b", "cuda12", "535.104.05"),
                                                                   ("internvl2-2b", "cuda", "535.104.05")}
    monkeypatch.setenv("VLMRUN_NVIDIA_DRIVER", "470.256.02")
    with pytest.raises(VlmrunError, match="family transformers-latest needs CUDA 12.8 or newer"):
        make_plan(cat, ["qwen2-vl-2b"], ["MME"], tmp_path, gpus=parse_gpus("all"))
    monkeypatch.delenv("VLMRUN_NVIDIA_DRIVER")
    assert make_plan(cat, ["qwen2-vl-2b"], ["MME"], tmp_path)[0].flavour == "cpu"  # no --gpus: no driver asked


def test_gpu_jobs_may_grow_their_batch_unless_the_user_fixed_it(tmp_path, monkeypatch):
    from vlmrun.container import job_payload

    monkeypatch.setenv("VLMRUN_NVIDIA_DRIVER", "580.159.04")
    cat = Catalogue()
    gpu = {j.model.name: j for j in make_plan(cat, ["qwen2-vl-2b", "internvl2-2b"], ["MME"], tmp_path,
                                                gpus=parse_gpus("all"))}
    assert (gpu["qwen2-vl-2b"].batch_size, gpu["qwen2-vl-2b"].max_batch_size) == (8, 64)
    assert gpu["internvl2-2b"].max_batch_size is None  # chat() one question at a time: no gpu_max_batch_size
    payload = job_payload(gpu["qwen2-vl-2b"], "/d.tsv", "/m", "/o")
    assert payload["max_batch_size"] == 64 and payload["batch_size"] == 8
    (fixed,) = make_plan(cat, ["qwen2-vl-2b"], ["MME"], tmp_path, gpus=parse_gpus("all"), batch_size=16)
    assert (fixed.batch_size, fixed.max_batch_size) == (16, None)  # --batch-size: exactly that
    (cpu,) = make_plan(cat, ["qwen2-vl-2b"], ["MME"], tmp_path)
    assert cpu.max_batch_size is None  # the CPU keeps the manifest's batch
