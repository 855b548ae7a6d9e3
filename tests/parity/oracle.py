"""The parity oracle, run inside a family image: VLMEvalKit's own dataset classes and model wrapper next to
vlmrun's worker, on the same rows, comparing what each hands to the model.

  python oracle.py CONFIG.json   ->  writes the results JSON named in the config

The config names the wrapper (e.g. 'Qwen2VLChat' with its config.py arguments), vlmrun's adapter and model
spec, the model folder and the benchmarks. For every row the script runs VLMEvalKit's inference step as
vlmeval/inference.py does (set_dump_image, use_custom_prompt / build_prompt, generate) with the model object
replaced by a recorder of its generate()/chat() call, and vlmrun's adapter (prepare, generation kwargs) with
the same recorder; with "generate": true both run the real model and the answers are compared instead.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import vlmeval_import  # noqa: E402


def setup_vlmeval(site: str, stub: list[str]) -> None:
    """`stub`: packages to stand in for although the checks use VLMEvalKit code that imports them (the
    transformers-4.37 image has no torchvision: InternVL's load_image is then compared in another image)."""
    vlmeval_import.setup(site, stub)


def same(a, b) -> bool:
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype \
            and a.shape == b.shape and bool(torch.equal(a.cpu(), b.cpu()))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def describe(v):
    import torch

    if isinstance(v, torch.Tensor):
        return f"tensor{tuple(v.shape)} {v.dtype}"
    if isinstance(v, (list, tuple)):
        return [describe(x) for x in v]
    return v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)


def write_tables(lmudata: Path, names: list[str]) -> None:
    import cases

    lmudata.mkdir(parents=True, exist_ok=True)
    tables = cases.tables()
    for n in names:
        (lmudata / f"{n}.tsv").write_text(tables[n], encoding="utf-8")


def vlmeval_dataset(name: str):
    """VLMEvalKit's own dataset object for `name`, reading $LMUData/<name>.tsv (its md5 check skipped: the
    file is ours)."""
    import vlmeval.dataset as D

    for cls in D.DATASET_CLASSES:
        if name in getattr(cls, "DATASET_MD5", {}):
            cls.DATASET_MD5 = {k: v for k, v in cls.DATASET_MD5.items() if k != name}
    return D.build_dataset(name)


def vlmeval_struct(wrapper, ds, line, name: str):
    """vlmeval/inference.py infer_data: the message for one row."""
    if getattr(ds, "force_use_dataset_prompt", False):
        return ds.build_prompt(line)
    if hasattr(wrapper, "use_custom_prompt") and wrapper.use_custom_prompt(name):
        return wrapper.build_prompt(line, dataset=name)
    return ds.build_prompt(line)


def internvl_tiles(folder: Path) -> list[dict]:
    """VLMEvalKit's InternVL load_image (vlmeval/vlm/internvl/utils.py) against vlmrun's pixel_values on the
    same files: every size x max_num x MMMU upscale, compared in float32 and after the cast to bfloat16."""
    import torch
    from PIL import Image
    from vlmeval.vlm.internvl.utils import load_image

    import cases
    from vlmrun_worker.adapters.internvl_chat import pixel_values

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    sizes = cases.SIZES + [(448, 448), (896, 448), (1792, 896), (300, 1200), (1000, 200), (2000, 1500), (99, 501),
                           (1234, 567), (4000, 100), (640, 640), (512, 384), (100, 4000), (1500, 1499)]
    for k, size in enumerate(sizes):
        path = folder / f"tile-{k}.png"
        Image.open(__import__("io").BytesIO(__import__("base64").b64decode(cases.image(k, size, fmt="PNG")))).save(path)
        for max_num in (6, 12, 18, 24):
            for upscale in (False, True):
                theirs = load_image(str(path), max_num=max_num, upscale=upscale)
                ours = pixel_values(Image.open(path).convert("RGB"), max_num, torch.float32, upscale=upscale)
                out.append({"bench": "tiles", "index": f"{size[0]}x{size[1]}/max{max_num}/up{int(upscale)}",
                            "tiles": int(ours.shape[0]),
                            "checks": {"tile count": theirs.shape == ours.shape,
                                       "pixels fp32": same(theirs, ours),
                                       "pixels bf16": same(theirs.to(torch.bfloat16), ours.to(torch.bfloat16))}})
    return out


def main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    os.environ["LMUData"] = cfg["lmudata"]
    setup_vlmeval(cfg["site"], cfg.get("stub", []))
    import wrappers  # noqa: E402  (after setup: it imports vlmeval)

    from vlmrun_worker.data import read_rows, same_image_count
    from vlmrun_worker.run import Sample

    t0 = time.monotonic()
    if cfg.get("tiles"):
        out = {"cases": internvl_tiles(Path(cfg["lmudata"]))}
        out.update(stubbed=sorted(vlmeval_import.STUBBED), seconds=round(time.monotonic() - t0, 1))
        Path(cfg["out"]).write_text(json.dumps(out, indent=1, default=str))
        return 0
    if not cfg.get("keep_tables"):  # the end-to-end check brings its own MME.tsv
        write_tables(Path(cfg["lmudata"]), cfg["benches"])
    wrapper, adapter = wrappers.build(cfg)
    out = {"stubbed": None, "cases": []}
    for name in cfg["benches"]:
        ds = vlmeval_dataset(name)
        wrapper.set_dump_image(ds.dump_image)
        spec = {**cfg["spec"], "bench": name, "bench_type": cfg["bench_types"][name]}
        spec.update(cfg.get("overrides", {}).get(name, {}))
        adapter.spec = spec
        wrappers.on_bench(adapter, spec)
        rows = {r.index: r for r in read_rows(str(Path(cfg["lmudata"]) / f"{name}.tsv"))}
        batched = []  # (case, sample): vlmrun again at the manifest's batch size, after the batch-1 pass
        for i in range(len(ds.data)):
            line = ds.data.iloc[i]
            row = rows[str(line["index"])]
            sample = Sample.of(row)
            struct = vlmeval_struct(wrapper, ds, line, name)
            case = {"bench": name, "index": row.index}
            if cfg.get("generate"):
                theirs = wrapper.generate(message=struct, dataset=name)
                ours = adapter.generate([sample])[0]
                case.update(vlmeval=theirs, vlmrun=ours, checks={"answer": theirs == ours})
                batched.append((case, sample))
            else:
                case.update(wrappers.compare(wrapper, adapter, struct, sample, name))
                if cfg.get("spy"):  # both models ran for real (llava_original): batch the same rows below
                    batched.append((case, sample))
            out["cases"].append(case)
        size, k = int(cfg.get("batch_size", 1)), 0
        batched.sort(key=lambda cs: len(cs[1].images))  # as the worker groups rows (image count first), stably
        while size > 1 and k < len(batched):  # chunks cut as the worker cuts them (one image count per batch)
            chunk = same_image_count(batched[k:k + size], lambda cs: len(cs[1].images))
            k += len(chunk)
            for (case, _), ans in zip(chunk, adapter.generate([s for _, s in chunk])):
                case["checks"][f"answer at batch {size}"] = ans == case["vlmeval"]
                case[f"vlmrun_batch{size}"] = ans
    out["stubbed"] = sorted(vlmeval_import.STUBBED)
    out["skipped_dataset_modules"] = vlmeval_import.SKIPPED
    out["seconds"] = round(time.monotonic() - t0, 1)
    Path(cfg["out"]).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
