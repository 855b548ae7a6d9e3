"""Where the GPU time of a full-size Qwen2-VL-2B goes, in the worker's own code path (no CLI, no container).

    python benchmarks/gpu_profile.py --tsv MME-synth.tsv [--rows 256] [--batches 1,8,16,32,64] [--out DIR]

On a GPU machine with torch and transformers (e.g. the family's lock in a venv): builds Qwen2-VL-2B's full
architecture with random weights (the `qwen2_vl_2b_shape` recipe), loads it through the `qwen2_vl` adapter with
qwen2-vl-2b-random's settings (VLMEvalKit's 1280*28*28 minimum pixels: ~1300 image tokens per MME question),
feeds it the TSV's rows through the worker's Prefetch in length-grouped batches, and prints per batch size:
samples/s, how long the model waited for data, the GPU time in the vision tower, the LLM prefill and the
decode steps (CUDA events around each), peak GPU memory per sample, and whether the answers equal batch 1's.
With --profile N, the top CUDA kernels of N batches (torch.profiler). Results also go to DIR/gpu_profile.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "images" / "worker"))


def sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_mem() -> int:
    import torch

    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0


class PhaseTimer:
    """CUDA events around the vision tower and each language-model call (prefill: more than one new token)."""

    def __init__(self, model):
        import torch

        self.torch, self.events, self.open = torch, [], {}
        inner = getattr(model, "model", model)
        for name, mod in (("vision", inner.visual), ("llm", inner.language_model)):
            mod.register_forward_pre_hook(self._pre(name), with_kwargs=True)
            mod.register_forward_hook(self._post(name))

    def _pre(self, name):
        def hook(mod, args, kwargs):
            x = kwargs.get("inputs_embeds")
            phase = name if name == "vision" else ("prefill" if x is not None and x.shape[1] > 1 else "decode")
            self.open[name] = (phase, self._event())
        return hook

    def _post(self, name):
        def hook(mod, args, out):
            phase, start = self.open.pop(name)
            self.events.append((phase, start, self._event()))
        return hook

    def _event(self):
        if not self.torch.cuda.is_available():
            return time.perf_counter()
        ev = self.torch.cuda.Event(enable_timing=True)
        ev.record()
        return ev

    def take(self) -> dict:
        sync()
        out: dict = {}
        for phase, s, e in self.events:
            out[phase] = out.get(phase, 0.0) + (e - s if isinstance(s, float) else s.elapsed_time(e) / 1000)
        self.events = []
        return out


def run_config(adapter, rows, batch, workers, timer, pool=None):
    import torch

    from vlmrun_worker.data import group_by_length
    from vlmrun_worker.run import Prefetch

    order = group_by_length(rows) if batch > 1 else rows
    feed = Prefetch(order, batch, adapter.prepare, workers, pool=pool)
    sync()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    base = peak_mem()
    timer.take()
    seen = dict(adapter.shared.stats)
    preds, tokens, t0 = {}, 0, time.monotonic()
    for samples, prepared in feed:
        tokens += int(prepared["attention_mask"].sum())
        for s, p in zip(samples, adapter.generate(samples, prepared)):
            preds[s.index] = p
    sync()
    wall = time.monotonic() - t0
    phases = timer.take()
    encoded = {k: adapter.shared.stats[k] - seen[k] for k in seen}
    return dict(batch=batch, prefetch=workers, rows=len(rows), wall_s=round(wall, 2),
                samples_per_s=round(len(rows) / wall, 2), data_wait_s=round(feed.waited_s, 2),
                prepare_s=round(feed.prepare_s, 2), prompt_tokens_per_row=round(tokens / len(rows)),
                images_encoded=f"{encoded['encoded']}/{encoded['images']}",
                gpu_phases_s={k: round(v, 2) for k, v in phases.items()},
                peak_mem_per_sample_gb=round((peak_mem() - base) / batch / 2**30, 2)), preds


def compile_elementwise(adapter):
    """torch.compile (Inductor, Triton) of the vision tower's elementwise work: the rotary embedding (in float32)
    and QuickGELU. Needs a C compiler and Python headers where it runs (Triton builds its launcher)."""
    import torch
    import transformers.models.qwen2_vl.modeling_qwen2_vl as mq

    mq.apply_rotary_pos_emb_vision = torch.compile(mq.apply_rotary_pos_emb_vision, dynamic=True)

    @torch.compile(dynamic=True)
    def quick_gelu(x):
        return x * torch.sigmoid(1.702 * x)

    class Act(torch.nn.Module):
        def forward(self, x):
            return quick_gelu(x)

    for blk in adapter.model.model.visual.blocks:
        blk.mlp.act = Act()


def no_sharing(adapter):
    """Every image processed and encoded, repeats too (as before a batch's repeated images were shared)."""
    from vlmrun_worker.adapters.shared_images import ProcessOnce

    ProcessOnce.ENABLED = False


def sharing(adapter):
    """A batch's repeated images processed and encoded once (the default; after noshare)."""
    from vlmrun_worker.adapters.shared_images import ProcessOnce

    ProcessOnce.ENABLED = True


VARIANTS = {"compile": compile_elementwise, "noshare": no_sharing, "share": sharing}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--rows-batch1", type=int, default=64)
    ap.add_argument("--batches", default="1,8,16,32,64")
    ap.add_argument("--prefetch", type=int, default=4)
    ap.add_argument("--model-dir", default="/tmp/qwen2-vl-2b-random")
    ap.add_argument("--recipe", default="qwen2_vl_2b_shape", help="the random-weight model to build (qwen2_vl: tiny)")
    ap.add_argument("--manifest", default=str(ROOT / "manifests" / "models" / "qwen2-vl-2b-random.yaml"))
    ap.add_argument("--profile", type=int, default=0, help="profile this many batches at the largest batch size")
    ap.add_argument("--variants", default="", help="comma list run at the largest batch size after the others: "
                    "compile (torch.compile of the vision tower's elementwise work), noshare / share (a batch's repeated "
                    "images encoded every time / once, the default), prefetch=N (threads from here on), processes=N "
                    "(prefetch processes from here on), "
                    "again (the last settings once more)")
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    Path(a.out).mkdir(parents=True, exist_ok=True)

    import torch
    import transformers
    import yaml

    from vlmrun_worker.adapters import load_adapter
    from vlmrun_worker.data import read_rows

    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name(0) if device != "cpu" else "CPU"
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {name}", flush=True)
    if not (Path(a.model_dir) / "config.json").exists():
        from vlmrun_worker.tiny import make

        t = time.monotonic()
        make(a.recipe, a.model_dir)
        print(f"built the random full-size model in {time.monotonic() - t:.1f} s", flush=True)
    m = yaml.safe_load(Path(a.manifest).read_text())
    spec = {**m, "bench": "MME", "bench_type": "yorn"}
    t = time.monotonic()
    adapter = load_adapter("qwen2_vl", a.model_dir, spec, device)
    print(f"loaded in {time.monotonic() - t:.1f} s; attention {adapter.model.config._attn_implementation}", flush=True)
    timer = PhaseTimer(adapter.model)
    rows = read_rows(a.tsv)[: a.rows]
    run_config(adapter, rows[:16], 8, a.prefetch, timer)  # warm-up: kernels chosen, allocator grown

    results, first = [], None
    for b in [int(x) for x in a.batches.split(",")]:
        part = rows[: a.rows_batch1] if b == 1 else rows
        r, preds = run_config(adapter, part, b, a.prefetch, timer)
        if first is None:
            first = preds
        same = sum(preds.get(i) == p for i, p in first.items())
        r["same_as_first_config"] = f"{same}/{len(first)}"
        results.append(r)
        print(json.dumps(r), flush=True)
        if device != "cpu":
            torch.cuda.empty_cache()

    b = max(int(x) for x in a.batches.split(","))
    base_preds = preds
    workers, pool = a.prefetch, None
    for v in [x for x in a.variants.split(",") if x]:
        if v.startswith("prefetch="):  # the preprocessing threads from here on
            workers, pool = int(v.split("=", 1)[1]), None
        elif v.startswith("processes="):  # prefetch processes from here on (the worker's default on a GPU)
            from vlmrun_worker.adapters import preparer_for
            from vlmrun_worker.procs import start_pool, threads_each

            workers = int(v.split("=", 1)[1])
            pool = start_pool(workers, *preparer_for("qwen2_vl", a.model_dir, spec, device),
                              threads=threads_each(workers, os.cpu_count() or 1))
            list(pool.map(int, range(workers)))  # started: their start-up is not part of the run
        elif v != "again":  # again: the same settings once more (e.g. compile's time spent in the first run)
            VARIANTS[v](adapter)
        r, preds = run_config(adapter, rows, b, workers, timer, pool)
        r["variant"] = v
        r["same_as_base_at_this_batch"] = f"{sum(base_preds.get(i) == p for i, p in preds.items())}/{len(preds)}"
        results.append(r)
        print(json.dumps(r), flush=True)

    if a.profile:
        from torch.profiler import ProfilerActivity, profile

        from vlmrun_worker.run import Prefetch

        feed = iter(Prefetch(rows[: b * a.profile], b, adapter.prepare, a.prefetch))
        batches = [next(feed) for _ in range(a.profile)]
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device != "cpu" else [])
        with profile(activities=acts) as prof:
            for samples, prepared in batches:
                adapter.generate(samples, prepared)
            sync()
        table = prof.key_averages().table(sort_by="self_cuda_time_total" if device != "cpu" else "self_cpu_time_total", row_limit=30, max_name_column_width=70)
        print(table)
        (Path(a.out) / "kernels.txt").write_text(table)
    (Path(a.out) / "gpu_profile.json").write_text(json.dumps(
        {"device": name, "torch": torch.__version__,
         "transformers": transformers.__version__, "results": results}, indent=1))


if __name__ == "__main__":
    main()
