"""Host side of the parity suite: the oracle's wheels (hash-checked, unpacked once), tiny models shaped like
the published checkpoints, and one container run of oracle.py per check."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = Path(os.environ.get("VLMRUN_CACHE", Path.home() / ".cache" / "vlmrun")) / "parity"


def oracle_site() -> Path:
    """VLMEvalKit (ms-vlmeval) and its small pure-Python needs, unpacked into one folder (once)."""
    lock = HERE / "wheels.txt"
    stamp = CACHE / "site" / ".lock"
    if stamp.is_file() and stamp.read_text() == lock.read_text():
        return CACHE / "site"
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                    "--only-binary=:all:", "--require-hashes", "-r", str(lock), "-d", str(wheels)], check=True)
    site = CACHE / "site.tmp"
    shutil.rmtree(site, ignore_errors=True)
    for line in lock.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, version = line.split()[0].split("==")
        (whl,) = [w for w in wheels.glob("*.whl")
                  if w.name.lower().startswith(name.replace("-", "_") + "-" + version + "-")]
        with zipfile.ZipFile(whl) as z:
            z.extractall(site)
    shutil.rmtree(CACHE / "site", ignore_errors=True)
    site.rename(CACHE / "site")
    stamp.write_text(lock.read_text())
    return CACHE / "site"


def vlmeval_config(name: str) -> tuple[str, dict]:
    """VLMEvalKit's config.py entry `name` (as shipped in the oracle's wheel): the wrapper class and its keyword
    arguments other than model_path, read from the source (importing config.py imports every wrapper)."""
    import ast

    tree = ast.parse((oracle_site() / "vlmeval" / "config.py").read_text(encoding="utf-8"))
    simple = (ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and key.value == name and isinstance(value, ast.Call):
                wrapper = ast.unparse(value.args[0]).split(".")[-1]
                kwargs = {}
                for kw in value.keywords:
                    expr = ast.Expression(kw.value)
                    assert all(isinstance(n, simple) for n in ast.walk(expr)), ast.unparse(kw.value)
                    kwargs[kw.arg] = eval(compile(expr, "config.py", "eval"), {"__builtins__": {}})  # noqa: S307
                kwargs.pop("model_path", None)
                return wrapper, kwargs
    raise KeyError(f"{name} is not in VLMEvalKit's config.py")


def reference_entry(model: str) -> str:
    """The config.py entry a model manifest's `reference` names ("... config.py 'NAME' ...")."""
    import re

    from vlmrun.manifest import Catalogue

    m = re.search(r"config\.py '([^']+)'", Catalogue().model(model).reference or "")
    assert m, f"{model}: its reference names no config.py entry"
    return m.group(1)


def model_spec(model: str, bench: str = "MME") -> dict:
    """A model manifest's settings as the worker gets them for `bench` (references and source left out)."""
    from tests.conftest import cpu_catalogue
    from vlmrun.container import model_settings
    from vlmrun.plan import make_plan

    (job,) = make_plan(cpu_catalogue(), [model], [bench], "/tmp/unused")
    return {k: v for k, v in model_settings(job).items() if k not in ("references", "source")}


def run_in_image(image: str, work: Path, argv: list[str], timeout: int = 1200,
                 mounts: tuple = (), env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a python command in `image` with the worker, this folder and the oracle site mounted read-only and
    `work` as /work (writable), without network, as the image's user; `mounts`: more (host, container) folders,
    read-only."""
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o777)
    # --hostname localhost: torchrun's rendezvous resolves the container's own name (no network: no DNS)
    cmd = ["docker", "run", "--rm", "--network", "none", "--init", "--hostname", "localhost",
           "-v", f"{ROOT / 'images' / 'worker'}:/opt/vlmrun/worker:ro", "-v", f"{HERE}:/parity:ro",
           "-v", f"{oracle_site()}:/oracle:ro", "-v", f"{work}:/work", "-e", "HOME=/work",
           *[x for src, dst in mounts for x in ("-v", f"{src}:{dst}:ro")],
           *[x for k, v in (env or {}).items() for x in ("-e", f"{k}={v}")],
           image, "python", *argv]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def make_model(image: str, work: Path, recipe: str, name: str, published: str | None = None) -> str:
    """A tiny random-weight model made in the image; `published` overlays that checkpoint's processor
    config, chat template and generation settings (tests/parity/checkpoints/<published>/)."""
    out = work / "models" / name
    if not (out / "config.json").is_file():
        (work / "models").mkdir(parents=True, exist_ok=True)
        os.chmod(work / "models", 0o777)
        proc = run_in_image(image, work, ["-m", "vlmrun_worker", "make-tiny", recipe, f"/work/models/{name}"])
        assert proc.returncode == 0, proc.stdout[-2000:]
    if published:
        # The published folder's files that the checks depend on, over the tiny model's: the chat template
        # (chat_template.json; transformers 5 writes chat_template.jinja and reads it first), and where the
        # folder has one the preprocessor config (Qwen: top-level min/max_pixels), then without
        # processor_config.json, which transformers 5 writes and reads first and the published Qwen folders lack.
        src = HERE / "checkpoints" / published
        drop = ["chat_template.jinja"]
        if (src / "preprocessor_config.json").is_file():
            drop += ["processor_config.json", "video_preprocessor_config.json"]
            shutil.copy(src / "preprocessor_config.json", out / "preprocessor_config.json")
        for f in drop:
            (out / f).unlink(missing_ok=True)
        shutil.copy(src / "chat_template.json", out / "chat_template.json")
        template = json.loads((src / "chat_template.json").read_text())["chat_template"]
        tok_cfg = out / "tokenizer_config.json"
        cfg = json.loads(tok_cfg.read_text())
        if "chat_template" in cfg:
            cfg["chat_template"] = template
            tok_cfg.write_text(json.dumps(cfg, indent=1))
        if (src / "generation_config.json").is_file():
            gen_path = out / "generation_config.json"
            gen = json.loads(gen_path.read_text()) if gen_path.is_file() else {}
            gen.update(json.loads((src / "generation_config.json").read_text()))
            gen_path.write_text(json.dumps(gen, indent=1))
    return f"/work/models/{name}"


def make_llava_pair(image: str, work: Path) -> tuple[str, str]:
    """The tiny LLaVA-1.5 in the original layout and its llava-hf conversion (llava_original.py)."""
    out = work / "models" / "llava15"
    if not (out / "llava-1.5-tiny-hf" / "config.json").is_file():
        (work / "models").mkdir(parents=True, exist_ok=True)
        os.chmod(work / "models", 0o777)
        proc = run_in_image(image, work, ["/parity/llava_original.py", "/oracle", "/work/models/llava15"])
        assert proc.returncode == 0, proc.stdout[-3000:]
    return "/work/models/llava15/llava-v1.5-tiny", "/work/models/llava15/llava-1.5-tiny-hf"


def run_oracle(image: str, work: Path, cfg: dict, tag: str) -> dict:
    cfg = {**cfg, "site": "/oracle", "lmudata": f"/work/LMUData-{tag}", "out": f"/work/result-{tag}.json"}
    (work / f"config-{tag}.json").write_text(json.dumps(cfg, indent=1))
    proc = run_in_image(image, work, ["/parity/oracle.py", f"/work/config-{tag}.json"])
    assert proc.returncode == 0, proc.stdout[-4000:]
    return json.loads((work / f"result-{tag}.json").read_text())


def table(results: dict[str, dict]) -> str:
    """The parity table: per check, cases and identical cases."""
    lines = [f"{'model / check':48} {'cases':>5} {'identical':>9}"]
    for tag, res in results.items():
        counts: dict[str, list[int]] = {}
        for case in res["cases"]:
            for check, ok in case["checks"].items():
                c = counts.setdefault(check, [0, 0])
                c[0] += 1
                c[1] += bool(ok)
        for check, (n, ok) in counts.items():
            lines.append(f"{tag + ' / ' + check:48} {n:>5} {ok:>9}")
    return "\n".join(lines)
