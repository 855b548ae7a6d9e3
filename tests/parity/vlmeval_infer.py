"""VLMEvalKit's own inference loop and MME scoring, run inside a family image (benchmarks/vs_vlmevalkit.py).

  python vlmeval_infer.py CONFIG.json                              one process
  python -m torch.distributed.run --nproc-per-node 2 vlmeval_infer.py CONFIG.json   data parallel, as run.py

What runs is VLMEvalKit's: `vlmeval.inference.infer_data_job` (its per-row loop, prompt building, image dumping,
pickled partial results and merge) with its `Qwen2VLChat` wrapper on the config's model folder, then the dataset's
own `evaluate` (exact matching), predictions written as TSV (VLMEvalKit's PRED_FORMAT=tsv). Set aside, as the parity oracle does: vlmeval/__init__.py, and `vlmeval.config`
(the table of model constructors run.py builds a model from by name; the wrapper object is passed instead).
Only what needs a GPU is patched (wrappers.py). With 2 ranks, rank 0 writes the images before the others start
(VLMEvalKit's ranks race on the same files otherwise); that time is counted.
"""
from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    os.environ["LMUData"] = cfg["lmudata"]
    os.environ.setdefault("PRED_FORMAT", "tsv")  # VLMEvalKit's own option; its xlsx writer (xlsxwriter) is not in the image
    import oracle

    oracle.setup_vlmeval(cfg["site"], cfg.get("stub", []))
    sys.modules["vlmeval.config"] = types.SimpleNamespace(supported_VLM={})
    import torch.distributed as dist
    import wrappers
    from vlmeval.inference import infer_data_job
    from vlmeval.smp import get_pred_file_path

    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    if world > 1:
        dist.init_process_group("gloo")
    ds = oracle.vlmeval_dataset(cfg["bench"])
    if world > 1:
        if rank == 0:
            for i in range(len(ds.data)):
                ds.dump_image(ds.data.iloc[i])
        dist.barrier()
    wrapper, _ = wrappers.build({**cfg, "generate": True, "wrapper_only": True})
    work = Path(cfg["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    infer_data_job(model=wrapper, work_dir=str(work), model_name=cfg["model_name"], dataset=ds)
    if rank == 0:
        result = get_pred_file_path(str(work), cfg["model_name"], cfg["bench"], use_env_format=True)
        scores = ds.evaluate(result, model="exact_matching")
        Path(cfg["out"]).write_text(json.dumps({"result_file": result, "scores": scores.to_dict("records")
                                                if hasattr(scores, "to_dict") else str(scores)}, default=str))
    if world > 1:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    t0 = time.monotonic()
    code = main(sys.argv[1])
    print(f"vlmeval_infer: {time.monotonic() - t0:.1f} s in the process", flush=True)
    sys.exit(code)
