"""In the container: a batch whose rows repeat images, through the qwen2_vl adapter's own prepare/generate, with
the repeats encoded once (the default) and with every image encoded (sharing turned off), and at batch 1.

  python shared_images_check.py CONFIG.json  ->  writes to config["out"]:
    {"batch1" | "shared" | "unshared" | "processes": {index: new token ids} ("processes": through 2 prefetch
     processes; "same_prepared": per batch, its tensors equal the adapter's own), "stats": {"images", "encoded"} of the shared run, "encoded_batch1": images the batch-1 run encoded,
     "pixel_rows": [shared, unshared] of the first batch, "embeds_max_abs_diff": of the language model's inputs}"""
import json
import sys
from pathlib import Path


def main(path: str) -> int:
    cfg = json.loads(Path(path).read_text())
    from vlmrun_worker.adapters import load_adapter
    from vlmrun_worker.adapters.shared_images import ProcessOnce, SharedImages
    from vlmrun_worker.data import group_by_length, read_rows
    from vlmrun_worker.run import Sample

    adapter = load_adapter("qwen2_vl", cfg["model_dir"], cfg["spec"], "cpu")
    adapter.processor.batch_decode = lambda ids, **kw: [json.dumps([int(t) for t in row]) for row in ids]
    embeds = []  # the language model's prefill inputs, per run
    lm = adapter.model.model.language_model
    lm.register_forward_pre_hook(
        lambda m, a, kw: embeds.append(kw["inputs_embeds"].detach().clone()) if kw["inputs_embeds"].shape[1] > 1 else None,
        with_kwargs=True)
    samples = [Sample.of(r) for r in group_by_length(read_rows(cfg["data"]))]
    n = cfg["batch_size"]
    out = {"order": [s.index for s in samples], "pixel_rows": []}

    def run(name):
        out[name] = {}
        for k in range(0, len(samples), n):
            chunk = samples[k:k + n]
            prepared = adapter.prepare(chunk)
            if k == 0:
                out["pixel_rows"].append(int(prepared["pixel_values"].shape[0]))
            for s, ids in zip(chunk, adapter.generate(chunk, prepared)):
                out[name][s.index] = json.loads(ids)

    run("shared")
    out["stats"] = dict(adapter.shared.stats)
    shared_embeds, embeds[:] = list(embeds), []
    ProcessOnce.ENABLED = SharedImages.REUSE_LAST = False  # every image processed and encoded, as without sharing
    run("unshared")
    ProcessOnce.ENABLED = SharedImages.REUSE_LAST = True
    out["embeds_max_abs_diff"] = max(float((a - b).abs().max()) for a, b in zip(shared_embeds, embeds))
    before = adapter.shared.stats["encoded"]
    out["batch1"] = {s.index: json.loads(adapter.generate([s])[0]) for s in samples}
    out["encoded_batch1"] = adapter.shared.stats["encoded"] - before  # a row after its image's first: reused
    out["processes"], out["same_prepared"] = processes(cfg, adapter, samples, n)
    Path(cfg["out"]).write_text(json.dumps(out))
    return 0


def processes(cfg, adapter, samples, n):
    """The same rows through 2 prefetch processes (procs.py): answers, and whether each batch's tensors equal
    the adapter's own preparation of it."""
    import torch

    from vlmrun_worker.adapters import preparer_for
    from vlmrun_worker.data import group_by_length, read_rows
    from vlmrun_worker.procs import start_pool, stopping
    from vlmrun_worker.run import Prefetch

    by_index = {s.index: s for s in samples}
    answers, same = {}, []
    pool = start_pool(2, *preparer_for("qwen2_vl", cfg["model_dir"], cfg["spec"], "cpu"))
    with stopping(pool):
        for batch, prepared in Prefetch(group_by_length(read_rows(cfg["data"])), n, None, 2, pool=pool):
            assert all(s.image is None for s in batch)  # light samples: the pixels stay in the process
            mine = adapter.prepare([by_index[s.index] for s in batch])
            same.append(sorted(mine.keys()) == sorted(prepared.keys()) and all(
                torch.equal(v, prepared[k]) if hasattr(v, "shape") else v == prepared[k] for k, v in mine.items()))
            for s, ids in zip(batch, adapter.generate(batch, prepared)):
                answers[s.index] = json.loads(ids)
    return answers, same


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
