"""In the container: rows that repeat images, through the internvl_chat adapter's own prepare/generate on the CPU,
with each image tiled and encoded once (the default), with every row tiled and encoded (caching and reuse turned
off), at batch 1, and with each batch as one padded batch_chat call.

  python internvl_tiles_check.py CONFIG.json  ->  writes to config["out"]:
    {"batched" | "unshared" | "batch1" | "padded": {index: new token ids}, "stats": {"images", "encoded"} of the
     batched run, "encoded_batch1": images the batch-1 run encoded, "calls": per batch_chat call of the batched run,
     its rows' prompt lengths, "pixels_fresh": every prepared tensor equals a fresh pixel_values() of its image and is
     contiguous, "embeds_max_abs_diff": of the language model's inputs, batched against unshared}"""
import json
import sys
from pathlib import Path


def main(path: str) -> int:
    cfg = json.loads(Path(path).read_text())
    import torch

    from vlmrun_worker.adapters import load_adapter
    from vlmrun_worker.adapters.internvl_chat import pixel_values, tiling
    from vlmrun_worker.adapters.internvl_tiles import SharedTiles, TileCache
    from vlmrun_worker.data import group_by_length, read_rows
    from vlmrun_worker.run import Sample

    adapter = load_adapter("internvl_chat", cfg["model_dir"], cfg["spec"], "cpu")
    adapter.tokenizer.batch_decode = lambda ids, **kw: [json.dumps([int(t) for t in row]) for row in ids]
    embeds, calls = [], []
    lm = adapter.model.language_model
    lm.register_forward_pre_hook(
        lambda m, a, kw: embeds.append(kw["inputs_embeds"].detach().clone())
        if kw.get("inputs_embeds") is not None and kw["inputs_embeds"].shape[1] > 1 else None, with_kwargs=True)
    batch_chat = adapter.model.batch_chat

    def recording_batch_chat(tokenizer, pixel_values, questions, generation_config, num_patches_list=None, **kw):
        calls.append([len(tokenizer(adapter.model._query(q, [n])).input_ids) for q, n in zip(questions, num_patches_list)])
        return batch_chat(tokenizer, pixel_values, questions, generation_config, num_patches_list=num_patches_list, **kw)

    adapter.model.batch_chat = recording_batch_chat
    samples = [Sample.of(r) for r in group_by_length(read_rows(cfg["data"]))]
    n = cfg["batch_size"]
    out = {"order": [s.index for s in samples], "pixels_fresh": True}

    def run(name):
        out[name] = {}
        for k in range(0, len(samples), n):
            chunk = samples[k:k + n]
            prepared = adapter.prepare(chunk)
            for s, tiles in zip(chunk, prepared[0]):
                (m, up), = tiling(adapter.spec, 1)
                fresh = pixel_values(s.images[0], m, adapter.dtype, upscale=up)
                out["pixels_fresh"] &= torch.equal(tiles[0], fresh) and tiles[0].is_contiguous()
            for s, ids in zip(chunk, adapter.generate(chunk, prepared)):
                out[name][s.index] = json.loads(ids)

    run("batched")
    out["stats"], out["calls"] = dict(adapter.shared.stats), list(calls)
    batched_embeds, embeds[:] = list(embeds), []
    TileCache.ENABLED = SharedTiles.REUSE = False  # every row tiled and every image encoded, as without sharing
    run("unshared")
    TileCache.ENABLED = SharedTiles.REUSE = True
    out["embeds_max_abs_diff"] = max(float((a - b).abs().max()) for a, b in zip(batched_embeds, embeds))
    adapter.shared.kept.clear()  # batch 1 from a cold start
    before = adapter.shared.stats["encoded"]
    out["batch1"] = {s.index: json.loads(adapter.generate([s])[0]) for s in samples}
    out["encoded_batch1"] = adapter.shared.stats["encoded"] - before
    adapter.unpadded = lambda pv, prompts: [list(range(len(pv)))]  # each batch one call, padded as it comes
    run("padded")
    Path(cfg["out"]).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
