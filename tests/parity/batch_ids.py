"""In the container: the new token ids a model's adapter generates for the same rows at batch 1 and at batch N,
through the adapter's own prepare/generate (the decode step records the ids instead of text).

  python batch_ids.py CONFIG.json  ->  writes {"batch1": {index: ids}, "batchN": {index: ids}} to config["out"]"""
import json
import sys
from pathlib import Path


def main(path: str) -> int:
    cfg = json.loads(Path(path).read_text())
    from vlmrun_worker.adapters import load_adapter
    from vlmrun_worker.data import read_rows
    from vlmrun_worker.run import Sample

    adapter = load_adapter(cfg["adapter"], cfg["model_dir"], cfg["spec"], "cpu")
    adapter.processor.batch_decode = lambda ids, **kw: [json.dumps([int(t) for t in row]) for row in ids]
    samples = [Sample.of(r) for r in read_rows(cfg["data"])]
    out = {"batch1": {}, f"batch{cfg['batch_size']}": {}}
    for s in samples:
        out["batch1"][s.index] = json.loads(adapter.generate([s])[0])
    n = cfg["batch_size"]
    for k in range(0, len(samples), n):
        chunk = samples[k:k + n]
        for s, ids in zip(chunk, adapter.generate(chunk)):
            out[f"batch{n}"][s.index] = json.loads(ids)
    Path(cfg["out"]).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
