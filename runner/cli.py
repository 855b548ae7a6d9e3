"""The `vlmrun` command line."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__
from .errors import VlmrunError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Evaluate vision-language models, each in its own pinned container environment.")
images_app = typer.Typer(no_args_is_help=True, help="Build, find and list environment images.")
models_app = typer.Typer(no_args_is_help=True, help="The model catalogue.")
bench_app = typer.Typer(no_args_is_help=True, help="The benchmark catalogue.")
app.add_typer(images_app, name="images")
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")

# In a log (CI, a batch job, a pipe) lines are not wrapped at 80 columns: full names stay on one line.
console = Console() if sys.stdout.isatty() or os.environ.get("COLUMNS") else Console(width=1000, soft_wrap=True)


def _log(line: str) -> None:
    """Print a line of a tool's output as it is (no rich markup or highlighting)."""
    console.print(line, markup=False, highlight=False)


def _print_table(title: str, columns, rows, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps([dict(zip(columns, row)) for row in rows], indent=1, default=str))
        return
    t = Table(title=title)
    for c in columns:
        t.add_column(c, overflow="fold")  # wrap, never cut: names and revisions must stay whole
    for row in rows:
        t.add_row(*[str(v) for v in row])
    console.print(t)


def _catalogue():
    from .manifest import Catalogue

    return Catalogue()


@app.command("eval")
def eval_cmd(
    models: List[str] = typer.Argument(..., help="model names (see `vlmrun models list`)"),
    bench: List[str] = typer.Option(["MME"], "--bench", "-b", help="benchmark name(s)"),
    work_dir: Path = typer.Option(Path("outputs"), "--work-dir", "-w", help="where predictions, scores and reports go"),
    nproc: Optional[int] = typer.Option(None, "--nproc", help="data-parallel ranks per job (default: one per GPU, "
                                        "or per --gpus-per-rank GPUs; 1 on CPU)"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="all | N | 0,1 (device ids); leave out to run on CPU"),
    gpus_per_rank: Optional[int] = typer.Option(None, "--gpus-per-rank", help="GPUs one rank's model is spread over "
                                                "(device_map auto; default: from the weights' size and the GPUs' "
                                                "memory, 20 %% headroom)"),
    mode: str = typer.Option("all", "--mode", help="all | infer | eval"),
    backend: str = typer.Option("docker", "--backend", help="docker | local (no container) | slurm (job array) | "
                                "k8s (Indexed Jobs)"),
    shards: int = typer.Option(1, "--shards", help="split each benchmark into N shards that run at once (clusters)"),
    partition: Optional[str] = typer.Option(None, "--partition", help="slurm: partition"),
    account: Optional[str] = typer.Option(None, "--account", help="slurm: account"),
    time_limit: Optional[str] = typer.Option(None, "--time", help="slurm: time limit per task, e.g. 04:00:00"),
    gpus_per_task: Optional[int] = typer.Option(None, "--gpus-per-task", help="slurm: GPUs per array task"),
    qos: Optional[str] = typer.Option(None, "--qos", help="slurm: quality of service"),
    array_parallelism: Optional[int] = typer.Option(None, "--array-parallelism", help="slurm: tasks running at once"),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="slurm: docker | podman | enroot | apptainer "
                                          "(enroot/apptainer: rendered with --dry-run)"),
    image_store: Optional[str] = typer.Option(None, "--image-store", help="slurm: shared folder the image is "
                                              "exported to once, for nodes that do not have it"),
    wait: Optional[bool] = typer.Option(None, "--wait/--no-wait", help="slurm, k8s: follow the tasks to the end "
                                        "(default), or submit and return (a dependent job then scores)"),
    namespace: Optional[str] = typer.Option(None, "--namespace", help="k8s: namespace"),
    pvc: Optional[str] = typer.Option(None, "--pvc", help="k8s: PersistentVolumeClaim holding data, weights and results"),
    registry: Optional[str] = typer.Option(None, "--registry", help="k8s, slurm: registry the image is pushed to"),
    backend_opt: List[str] = typer.Option([], "--backend-opt", "-o", help="any option of the backend as KEY=VALUE "
                                          "(the config file takes the same keys)"),
    engine: str = typer.Option("hf", "--engine", help="hf (transformers, data parallel ranks) | vllm (GPU only)"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="override the model's batch size"),
    limit: Optional[int] = typer.Option(None, "--limit", help="only the first N rows of each benchmark"),
    prefetch: Optional[int] = typer.Option(None, "--prefetch", help="preprocessing threads per rank, ahead of the "
                                           "model; 0: inline (default: up to 4 on GPU; on CPU 0 with fewer than "
                                           "4 cores per rank, else 1, torch getting the other cores)"),
    api_threads: int = typer.Option(4, "--api-threads", help="API models: requests in flight at once"),
    nframe: Optional[int] = typer.Option(None, "--nframe", help="video benchmarks: frames sampled per video "
                                         "(default 8, as VLMEvalKit's run.py)"),
    fps: Optional[float] = typer.Option(None, "--fps", help="video benchmarks: frames per second of video instead "
                                        "of --nframe"),
    pack: bool = typer.Option(False, "--pack", help="video benchmarks: ask all of a video's questions in one "
                              "request, and split the answer back per question"),
    subtitles: bool = typer.Option(False, "--subtitles", help="Video-MME: the subtitles at the sampled frames go "
                                   "into the prompt (VLMEvalKit's _subs settings)"),
    scoring: str = typer.Option("vlmevalkit", "--scoring", help="vlmevalkit | official (MME)"),
    judge: str = typer.Option("exact_matching", "--judge", help="exact_matching (rules only) | MODEL: an API model, "
                              "or a zoo model served here for the scoring, reads the Y/N and MCQ answers no rule can"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the plan and the container requests, run nothing"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show the workers' log lines"),
    memory: Optional[str] = typer.Option(None, "--memory", help="docker: memory limit per job container, e.g. 32g"),
    gate: bool = typer.Option(False, "--gate", help="end with `vlmrun gate` against the manifests' references "
                              "(or --gate-against): exit 1 when a score drifts"),
    gate_against: Optional[str] = typer.Option(None, "--gate-against", help="a work dir to gate against (implies --gate)"),
    junit_file: Optional[Path] = typer.Option(None, "--junit", help="with --gate: write its JUnit XML here"),
):
    """Run MODELS on the benchmarks, each in its own container, and print one merged report."""
    from .gpus import parse_gpus
    from .evaluate import Evaluator
    from .plan import VideoSetting, make_plan
    from .report import print_tables, runs_table, score_tables, write_report

    cat = _catalogue()
    jobs = make_plan(cat, models, bench, work_dir.resolve(), gpus=parse_gpus(gpus), nproc=nproc,
                     batch_size=batch_size, limit=limit, engine=engine, prefetch=prefetch, api_threads=api_threads,
                     video=VideoSetting.of(nframe, fps, pack, subtitles), gpus_per_rank=gpus_per_rank)
    opts = _backend_cli_options(backend, dict(
        partition=partition, account=account, time=time_limit, gpus_per_task=gpus_per_task, qos=qos,
        array_parallelism=array_parallelism, runtime=runtime, image_store=image_store, wait=wait,
        namespace=namespace, pvc=pvc, registry=registry, memory=memory), backend_opt)
    ev = Evaluator(cat, backend=backend, mode=mode, scoring_name=scoring, console=console, verbose=verbose,
                   shards=shards, backend_options=opts, judge=judge,
                   context={"work_dir": str(work_dir.resolve()), "command": _rerun_command()})
    if dry_run:
        _print_dry_run(cat, jobs, ev)
        return
    try:
        results = ev.run(jobs)
    except KeyboardInterrupt:
        print(f"interrupted: containers removed; finished predictions are kept in {work_dir} "
              "(run the same command again to resume)", file=sys.stderr)
        raise typer.Exit(130) from None
    from .report import bench_label, collect

    submitted = [r for r in results if r.status == "submitted"]
    if submitted:  # --no-wait: the cluster runs them; a dependent job merges and scores them
        console.print(f"{len(submitted)} job(s) submitted; `vlmrun status {work_dir}` follows them", highlight=False)
    names = {(r.job.model.name, r.job.label) for r in results if r.status == "ok"}
    records = [rec for rec in collect(work_dir) if (rec["model"]["name"], bench_label(rec)) in names]
    tables = score_tables(records, cat)
    runs = runs_table(results)
    print_tables(console, tables, runs)
    written = write_report(work_dir, tables, runs, records=records, cat=cat)
    console.print("report: " + ", ".join(str(p) for p in written), highlight=False)
    failed = [r for r in results if r.status not in ("ok", "submitted")]
    for r in failed:  # the error is plain text: a '[...]' in it is not markup
        console.print(Text.assemble(("failed", "red"), f" {r.job.name}: {r.error}"), highlight=False, soft_wrap=True)
    gate_passed = _gate(work_dir, gate_against or "reference", junit_file=junit_file) if gate or gate_against else True
    if failed or not gate_passed:
        raise typer.Exit(1)


def _backend_cli_options(backend: str, given: dict, pairs: List[str] = ()) -> dict:
    """The backend options given on the command line (named flags and -o KEY=VALUE); one that the backend does
    not take is an error."""
    from .config import declared_options, parse_pair

    declared = declared_options(backend)
    for pair in pairs:
        key, value = parse_pair(pair, declared, backend)
        given[key] = value
    extra = [k for k, v in given.items() if v is not None and k not in declared]
    if extra:
        flags = ", ".join("--" + ("time" if k == "time" else k.replace("_", "-")) for k in extra)
        raise VlmrunError(f"{flags}: not an option of --backend {backend} (it takes: "
                          f"{', '.join('--' + k.replace('_', '-') for k in declared) or 'none'})")
    return {k: v for k, v in given.items() if k in declared}


def _rerun_command() -> list[str]:
    """This command line, to run again with --mode eval (a cluster's dependent scoring job)."""
    return [sys.executable, "-m", "vlmrun.cli", *sys.argv[1:]]


def _print_dry_run(cat, jobs, ev):
    """The plan, then the whole submission as the backend would make it (command lines, sbatch script, YAML)."""
    from .backends.base import Task

    items = []  # (task, request): API models run on the host whatever the backend
    for j in jobs:
        per = f" x {j.gpus_per_rank} GPUs per rank" if j.gpus_per_rank > 1 else ""
        console.print(f"[bold]{j.name}[/bold]: family {j.family} ({j.flavour}), nproc {j.nproc}{per}, "
                      f"batch {j.batch_size}, shards {ev.shards}, run dir {j.run_dir}")
        backend = ev.backend_for(j)
        env = backend.environment(cat, j, _log, build=False)
        for k in range(ev.shards):
            task = Task(j, k, ev.shards)
            req = backend.job_request(task, env, Path(f"<data>/{j.bench.file}"), Path(f"<model dir of {j.model.name}>"))[0]
            items.append((task, req))
    for backend, mine in ev.by_backend(items, lambda item: item[0].job).items():
        print(backend.render(mine))  # as is: a script or YAML must not be wrapped to the terminal width


@app.command("inspect")
def inspect_cmd(
    model: str = typer.Argument(..., help="a model from `vlmrun models list`"),
    bench: str = typer.Option(..., "--bench", "-b", help="the benchmark"),
    row: Optional[str] = typer.Option(None, "--row", help="the row's index (default: the first row)"),
    backend: str = typer.Option("docker", "--backend", help="docker | local"),
    work_dir: Path = typer.Option(Path("outputs"), "--work-dir", help="where the inspect job file goes"),
    as_json: bool = typer.Option(False, "--json", help="print the description as JSON"),
    nframe: Optional[int] = typer.Option(None, "--nframe", help="video benchmarks: frames per video (default 8)"),
    fps: Optional[float] = typer.Option(None, "--fps", help="video benchmarks: frames per second instead"),
    pack: bool = typer.Option(False, "--pack", help="video benchmarks: one request per video (--row: its name)"),
    subtitles: bool = typer.Option(False, "--subtitles", help="Video-MME: subtitles in the prompt"),
):
    """Print exactly what MODEL is given for one row of BENCH: the prompt with its special tokens, the image
    sizes after preprocessing, the image-token count, and the generation settings (the model is not loaded)."""
    from .evaluate import Evaluator
    from .plan import VideoSetting, make_plan

    cat = _catalogue()
    (job,) = make_plan(cat, [model], [bench], work_dir.resolve(), video=VideoSetting.of(nframe, fps, pack, subtitles))
    out = Evaluator(cat, backend=backend, console=console).inspect(job, row)
    if as_json:
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return
    for key, value in out.items():
        if key == "prompt":
            console.print("[bold]prompt[/bold] (special tokens included):", highlight=False)
            console.print(value, markup=False, highlight=False)
        else:
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
            console.print(f"[bold]{key}[/bold]: {shown}", highlight=False)


@app.command("serve")
def serve_cmd(
    model: str = typer.Argument(..., help="a model from `vlmrun models list`"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (beyond loopback: --token-env needed)"),
    port: int = typer.Option(8000, "--port", help="port to listen on"),
    token_env: Optional[str] = typer.Option(None, "--token-env", help="variable holding the bearer token clients send"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="most requests batched together "
                                             "(default: the model's batch size)"),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="all | N | 0,1; leave out to run on CPU"),
    backend: str = typer.Option("docker", "--backend", help="docker | local"),
    max_wait_ms: float = typer.Option(10.0, "--max-wait-ms", help="how long a request waits for others to batch with"),
    fail_every: int = typer.Option(0, "--fail-every", hidden=True, help="tests: answer every Nth request with 503"),
    work_dir: Path = typer.Option(Path("outputs"), "--work-dir", help="where the server's job file and log go"),
):
    """Serve MODEL, in its own pinned environment, behind an OpenAI-compatible /v1/chat/completions (images as
    data URLs); concurrent requests are batched. Ctrl-C stops it."""
    from .gpus import parse_gpus
    from .serve import event_error, serve, serving_url

    errors: list = []

    def on_line(line: str) -> None:
        url, err = serving_url(line), event_error(line)
        if url:
            console.print(f"serving {model} at {url} (Ctrl-C stops)", highlight=False)
        elif err:
            errors.append(err)
            console.print(Text.assemble(("error", "red"), f" {err}"), highlight=False)

    try:
        outcome = serve(_catalogue(), model, work_dir.resolve(), host=host, port=port, token_env=token_env,
                        batch_size=batch_size, gpus=parse_gpus(gpus), backend=backend, max_wait_ms=max_wait_ms,
                        fail_every=fail_every, on_line=on_line, console=console)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    if outcome.exit_code not in (0, 130, 137, -2, -9, -15, 143):
        if not errors:  # the worker said nothing: show how it ended
            tail = " | ".join(l for l in outcome.log_tail[-3:] if l.strip())
            console.print(Text.assemble(("error", "red"), f" the server exited with {outcome.exit_code}: {tail}"))
        raise typer.Exit(1)


@app.command("status")
def status_cmd(work_dir: Path = typer.Argument(..., help="the --work-dir of an eval")):
    """Every job of a work dir: queued, running (rows done), finished, failed (with its log's last line)."""
    from .status import job_status

    rows = job_status(work_dir.resolve())
    if not rows:
        console.print(f"{work_dir}: no jobs found", highlight=False)
        return
    _print_table(f"jobs in {work_dir}", list(rows[0]), [list(r.values()) for r in rows])


@app.command("report")
def report_cmd(work_dir: Path = typer.Argument(..., help="a work dir of earlier `vlmrun eval` runs"),
               formats: str = typer.Option("csv,md,xlsx,json,html", "--format",
                                           help="comma-separated: csv, md, xlsx, json, html")):
    """Rebuild and print the merged report of every job in WORK_DIR."""
    from .report import print_tables, record_runs_table, score_tables, scored_records, write_report

    records = scored_records(work_dir)
    cat = _catalogue()
    tables = score_tables(records, cat)
    runs = record_runs_table(records)
    print_tables(console, tables, runs)
    fmts = [f.strip() for f in formats.split(",") if f.strip()]
    written = write_report(work_dir, tables, runs, records=records, cat=cat, formats=fmts)
    console.print("report: " + ", ".join(str(p) for p in written), highlight=False)


@app.command("import")
def import_cmd(predictions: Path = typer.Argument(..., help="a VLMEvalKit predictions file ({model}_{bench}.xlsx or .tsv)"),
               model: str = typer.Option(..., "--model", "-m", help="the name it gets in the report"),
               bench: str = typer.Option(..., "--bench", "-b", help="the benchmark it answers"),
               work_dir: Path = typer.Option(Path("outputs"), "--work-dir", "-w", help="the work dir whose report it joins"),
               scoring: str = typer.Option("vlmevalkit", "--scoring", help="vlmevalkit | official (MME)")):
    """Put an existing VLMEvalKit predictions file into a work dir: checked against the benchmark, scored with
    its scorer, recorded with where it came from, and shown in the merged report next to vlmrun's runs."""
    from .importer import import_predictions

    cat = _catalogue()
    rec = import_predictions(predictions, model, cat.benchmark(bench), work_dir.resolve(), cat, scoring)
    console.print(f"imported {predictions} as {model} on {bench} (sha256 {rec['imported']['sha256'][:12]}...)",
                  highlight=False)
    report_cmd(work_dir, "csv,md,xlsx,json,html")


GATE_SAMPLES, GATE_CONFIDENCE = 500, 0.95  # the gate's bootstrap replicates and interval, by default


@app.command("gate")
def gate_cmd(work_dir: Path = typer.Argument(..., help="the work dir whose scores are checked"),
             against: str = typer.Option("reference", "--against", help="reference (the model manifests' reference "
                                         "scores) or another work dir (paired, question by question)"),
             tolerance: Optional[str] = typer.Option(None, "--tolerance", help="allowed difference in points (1.5) or "
                                                     "% of the value compared against (2%); default 1 against "
                                                     "references, 0 against a run (then only a difference outside "
                                                     "the noise fails)"),
             metric: Optional[List[str]] = typer.Option(None, "--metric", help="only these score keys (repeatable)"),
             junit_file: Optional[Path] = typer.Option(None, "--junit", help="write JUnit XML here"),
             as_json: bool = typer.Option(False, "--json", help="print the verdict as JSON"),
             samples: int = typer.Option(GATE_SAMPLES, "--samples", min=20, help="bootstrap replicates (against a run)"),
             confidence: float = typer.Option(GATE_CONFIDENCE, "--confidence", min=0.5, max=0.999)):
    """Exit 1 when a score drifts: from its reference, or from another run of the same model and benchmark."""
    if not _gate(work_dir, against, tolerance, metric, junit_file, as_json, samples, confidence):
        raise typer.Exit(1)


def _gate(work_dir: Path, against: str, tolerance: Optional[str] = None, metric=None, junit_file: Optional[Path] = None,
          as_json: bool = False, samples: int = GATE_SAMPLES, confidence: float = GATE_CONFIDENCE) -> bool:
    """Run the gate, print its verdict (and write its JUnit); True when it passes."""
    from .gate import against_reference, against_run, junit, lines
    from .predictions import atomic_write

    cat = _catalogue()
    if against == "reference":
        res = against_reference(work_dir.resolve(), cat, tolerance or "1", metric)
    else:
        res = against_run(work_dir.resolve(), Path(against).resolve(), cat, tolerance or "0", metric, samples,
                          confidence)
    if junit_file:
        atomic_write(junit_file, lambda p: p.write_text(junit(res)))
    if as_json:
        print(json.dumps(res.as_json(), indent=1))
    else:
        for line in lines(res):
            print(line)
        failed = sum(c.failed for c in res.checks)
        print(f"gate: {'PASS' if res.passed else 'FAIL'} ({len(res.checks)} checks, {failed} failed, against {res.against})"
              + (f"; JUnit: {junit_file}" if junit_file else ""))
    return res.passed


@app.command("score")
def score_cmd(bench: str = typer.Option(..., "--bench", "-b"), predictions: Path = typer.Option(..., "--predictions", "-p"),
              scoring: str = typer.Option("vlmevalkit", "--scoring", help="vlmevalkit | official"),
              judge: str = typer.Option("exact_matching", "--judge", help="exact_matching | MODEL (as in eval)"),
              as_json: bool = typer.Option(False, "--json", help="print the scores as one JSON object")):
    """Score a predictions file (.xlsx or .tsv in VLMEvalKit's layout) without running a model."""
    import json
    import tempfile

    from .importer import read_file
    from .judge import EXACT, Judge, score_with

    cat = _catalogue()
    b = cat.benchmark(bench)
    df = read_file(predictions)  # a missing, corrupt or column-less file: one line
    if judge == EXACT:
        scores = score_with(b.scorer, b.type, df, scoring, None)
    else:
        with tempfile.TemporaryDirectory(prefix="vlmrun-judge-") as tmp, Judge(cat, judge, Path(tmp), log=_log) as j:
            scores = score_with(b.scorer, b.type, df, scoring, j)
    if as_json:
        print(json.dumps(scores))
        return
    _print_table(f"{bench} ({scoring})", ("metric", "score"),
                 [(k, f"{v:.2f}" if isinstance(v, float) else v) for k, v in scores.items()])


@images_app.command("build")
def images_build(families: List[str] = typer.Argument(None, help="family names (default: all)"),
                 flavour: str = typer.Option("cpu", "--flavour", help="cpu | cuda")):
    """Build (or find) the image of each family, with live build output."""
    from .backends.docker_backend import connect
    from .images import ensure_image

    cat = _catalogue()
    client = connect()
    for fam in families or sorted(cat.families):
        res = ensure_image(client, cat, fam, flavour, log=_log)
        state = f"built in {res.seconds:.0f}s" if res.built else "up to date"
        console.print(f"[bold]{fam}[/bold] ({flavour}): {res.tag} {state}")


JSON_OPT = typer.Option(False, "--json", help="print a JSON list instead of a table")


@images_app.command("list")
def images_list(as_json: bool = JSON_OPT):
    """Images built by vlmrun."""
    from .backends.docker_backend import connect
    from .images import list_images

    rows = list_images(connect(), _catalogue())
    cols = ("family", "flavour", "tags", "size_mb", "python", "torch", "transformers", "created")
    _print_table("vlmrun images", cols, [[r[c] for c in cols] for r in rows], as_json)


@images_app.command("prune")
def images_prune(everything: bool = typer.Option(False, "--all", help="remove every vlmrun image, current ones too"),
                 dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be removed")):
    """Remove vlmrun images that no manifest uses any more (their Dockerfile, lock or base changed)."""
    import docker.errors

    from .backends.docker_backend import connect
    from .images import LABEL_PREFIX, stale_images

    client = connect()
    doomed = (client.images.list(filters={"label": f"{LABEL_PREFIX}.family"}) if everything
              else stale_images(client, _catalogue()))
    for img in doomed:
        name = ", ".join(img.tags) or img.short_id
        if dry_run:
            console.print(f"would remove {name}")
            continue
        try:
            client.images.remove(img.id, force=False)
            console.print(f"removed {name}")
        except docker.errors.APIError as e:
            console.print(f"kept {name}: {e.explanation}")
    if not doomed:
        console.print("nothing to remove")


@images_app.command("base")
def images_base():
    """Make the local Python base image (debootstrap + docker import; needs root, no registry)."""
    from .backends.docker_backend import connect
    from .images import LOCAL_BASE, make_local_base

    image_id = make_local_base(connect(), LOCAL_BASE, log=_log)
    console.print(f"{LOCAL_BASE}: {image_id}")


@images_app.command("lock")
def images_lock(family: str = typer.Argument(...), flavour: str = typer.Option("cpu", "--flavour"),
                upgrade: bool = typer.Option(False, "--upgrade", help="resolve every package afresh instead of "
                                             "keeping the versions the existing lock pins")):
    """Resolve a family's requirements on the host and write its pinned, hashed lock file (keeping the existing
    lock's versions where the requirements allow them, unless --upgrade)."""
    from .images import write_lock

    cat = _catalogue()
    fam = cat.family(family)
    if flavour not in fam.flavours:
        raise VlmrunError(f"family {family} has no '{flavour}' flavour; it has: {', '.join(fam.flavours)}")
    path = write_lock(fam, flavour, cat.root, log=_log, upgrade=upgrade)
    console.print(f"wrote {path}")


@images_app.command("venv")
def images_venv(family: str = typer.Argument(...), flavour: str = typer.Option("cpu", "--flavour")):
    """Install a family's lock into a host venv, for `eval --backend local` (same pins, no container)."""
    from .images import host_venv

    venv = host_venv(_catalogue(), family, flavour, log=_log)
    console.print(f"{venv}: run `VLMRUN_LOCAL_PYTHON={venv}/bin/python vlmrun eval ... --backend local`")


@models_app.command("pull")
def models_pull(models: List[str] = typer.Argument(..., help="model names"),
                source: str = typer.Option("hf", "--source", help="hf (the hub; HF_TOKEN from the environment), "
                                           "modelscope (MODELSCOPE_DOMAIN, MODELSCOPE_API_TOKEN) or dir:PATH (a "
                                           "mirror folder PATH/<org>/<name>)")):
    """Download models' pinned snapshots into the host's cache (containers never download); resumable."""
    from .weights import pull

    cat = _catalogue()
    for name in models:
        m = cat.model(name)
        if m.is_api:
            raise VlmrunError(f"{name} is an API model: it has no weights to pull")
        path = pull(m, source, log=_log)
        repo = (f"modelscope:{m.source.modelscope}@{m.source.modelscope_revision}" if source == "modelscope"
                else f"{m.source.hub}@{m.source.revision or 'main'}")
        console.print(f"{name}: {repo} in {path}", highlight=False)


@models_app.command("list")
def models_list(as_json: bool = JSON_OPT):
    """Models in the catalogue, grouped by family, with what each needs: weights' memory (from the parameter
    count and dtype), GPUs of 80 GB (weights + 20 %), remote code, whether it runs on a CPU (the cpu flavour)."""
    from .zoo import rows

    table = rows(_catalogue())
    cols = ("family", "name", "adapter", "source", "revision", "params_b", "weights_gib", "gpus_80gb", "remote_code", "cpu",
            "batch")
    _print_table("models", cols, [tuple((r[c] if as_json else _cell(c, r[c])) for c in cols) for r in table], as_json)


def _cell(col: str, value):
    if value is None:
        return "?" if col in ("params_b", "weights_gib", "gpus_80gb") else ""
    if col == "revision":
        return value[:12]
    if col in ("remote_code", "cpu"):
        return "yes" if value else "no"
    return value


@models_app.command("add")
def models_add(hub_id: str = typer.Argument(..., help="the new checkpoint's HuggingFace repo id"),
               like: str = typer.Option(..., "--like", help="a known model of the same series, whose settings it takes"),
               name: Optional[str] = typer.Option(None, "--name", help="the model's name (default: the repo's, lowercased)"),
               revision: Optional[str] = typer.Option(None, "--revision", help="the commit to pin"),
               params_b: Optional[float] = typer.Option(None, "--params-b", help="parameters, billions")):
    """Write a manifest for a new checkpoint of a known series (its family, adapter and VLMEvalKit settings)."""
    from .zoo import add

    path = add(_catalogue(), hub_id, like, name=name, revision=revision, params_b=params_b)
    console.print(f"wrote {path}; `vlmrun models pull {path.stem}` fetches its weights"
                  + ("" if revision else "; pin a commit with --revision for reproducible runs"), highlight=False)


@bench_app.command("list")
def bench_list(as_json: bool = JSON_OPT):
    """Benchmarks in the catalogue."""
    from .datasets import bench_file

    def present(b) -> str:
        try:
            bench_file(b, check=False)
            return "yes"
        except VlmrunError:
            return "no"

    benches = sorted(_catalogue().benchmarks.values(), key=lambda b: b.name)
    _print_table("benchmarks", ("name", "type", "scorer", "rows", "file", "present"),
                 [(b.name, b.type, b.scorer, b.rows or "", b.file, present(b)) for b in benches], as_json)


data_app = typer.Typer(no_args_is_help=True, help="Benchmark data files.")
app.add_typer(data_app, name="data")


@data_app.command("fetch")
def data_fetch(benches: List[str] = typer.Argument(..., help="benchmark names")):
    """Download benchmark TSVs into $LMUData (md5-checked, resumable), and a video benchmark's videos (archives
    unpacked once; a bundled benchmark's synthetic videos made); files already there are reused."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from .datasets import fetch
    from .videos import fetch_videos

    cat = _catalogue()
    todo = [cat.benchmark(b) for b in benches]
    with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=console) as bar:
        later = None  # a video benchmark's missing TSV is reported after its videos are fetched
        for b in todo:
            task = bar.add_task(b.name, total=None)
            try:
                path, what = fetch(b, progress=lambda done, total: bar.update(task, completed=done, total=total))
            except VlmrunError as e:
                if b.videos is None or b.videos.synthetic:
                    raise
                later, path, what = e, None, "TSV missing (below)"
            bar.update(task, description=f"{b.name}: {what}")
            if b.videos is not None:
                vtask = bar.add_task(f"{b.name} videos", total=None)
                what = fetch_videos(cat, b, path, progress=lambda done, total: bar.update(vtask, completed=done, total=total),
                                    log=lambda line: bar.console.print(line, markup=False, highlight=False, style="dim"))
                bar.update(vtask, description=f"{b.name} videos: {what}")
    if later is not None:
        raise later


@app.command("doctor")
def doctor(gpus: bool = typer.Option(False, "--gpus", help="also check what --gpus needs: the NVIDIA driver, the "
                                     "CUDA flavour each family gets with it, and a GPU container on the engine")):
    """Check the Docker engine, the GPU container toolkit, the base image and disk space."""
    from .backends.docker_backend import connect

    ok = True

    def line(good: bool, what: str, detail: str):
        nonlocal ok
        ok &= good
        console.print(f"[{'green' if good else 'red'}]{'ok ' if good else 'no '}[/] {what}: {detail}")

    try:
        client = connect()
        info = client.info()
        line(True, "docker engine", f"{info.get('ServerVersion')} ({info.get('Driver')})")
        runtimes = info.get("Runtimes", {})
        has_nvidia = "nvidia" in runtimes or bool(shutil.which("nvidia-container-runtime")) or bool(
            shutil.which("nvidia-ctk"))
        console.print(f"[{'green' if has_nvidia else 'yellow'}]{'ok ' if has_nvidia else '-- '}[/] GPU toolkit: "
                      + ("NVIDIA container runtime present" if has_nvidia else
                         "none (CPU only; --gpus needs nvidia-container-toolkit)"))
        from .images import LOCAL_BASE
        try:
            client.images.get(LOCAL_BASE)
            line(True, "base image", LOCAL_BASE)
        except Exception:  # noqa: BLE001
            console.print(f"[yellow]-- [/] base image: {LOCAL_BASE} missing (made on first build, or `vlmrun images base`)")
        root = info.get("DockerRootDir", "/var/lib/docker")
        target = root if os.path.exists(root) else "/"
        free = shutil.disk_usage(target).free / 1e9
        line(free > 20, "disk", f"{free:.0f} GB free under {target} (the latest family's image is ~6 GB)")
        if gpus:
            _doctor_gpus(client, line)
    except VlmrunError as e:
        line(False, "docker engine", str(e))
    if not ok:
        raise typer.Exit(1)


def _doctor_gpus(client, line) -> None:
    from .backends.docker_backend import DockerBackend
    from .cuda import choose_flavour, cuda_flavours, host_driver
    from .gpus import parse_gpus
    from .images import LOCAL_BASE

    driver = host_driver()
    line(driver is not None, "NVIDIA driver", driver or "not found on this host (no nvidia-smi, no /proc/driver/"
         "nvidia): install the driver; for a cluster's GPU nodes set VLMRUN_NVIDIA_DRIVER to their version")
    cat = _catalogue()
    for fam in sorted(cat.families):
        flavours = cuda_flavours(cat, fam)
        if not flavours:
            continue
        if driver is None:
            needs = ", ".join(f"{n} CUDA {c[0]}.{c[1]}" for n, c in sorted(flavours.items()))
            console.print(f"[yellow]-- [/] {fam}: {needs}", highlight=False)
            continue
        try:
            name = choose_flavour(cat, fam, driver)
            line(True, fam, f"flavour {name} (CUDA {'.'.join(map(str, flavours[name]))})")
        except VlmrunError as e:
            line(False, fam, str(e))
    try:
        DockerBackend(client=client).check_gpus(parse_gpus("all"), LOCAL_BASE)
        line(True, "GPU container", "a --gpus all container ran on the engine")
    except VlmrunError as e:
        line(False, "GPU container", str(e))


@app.command("version")
def version():
    """Print vlmrun's version."""
    console.print(__version__)


def main():
    def _term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    try:
        app()
    except VlmrunError as e:
        print(f"error: {e}", file=sys.stderr)  # one line, never wrapped
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: containers removed; finished predictions are kept (run again to resume)", file=sys.stderr)
        sys.exit(130)
    except OSError as e:
        if e.errno not in _DISK_ERRORS:
            raise
        where = f" writing {e.filename}" if e.filename else ""
        print(f"error: {e.strerror}{where}: free some space or use another --work-dir; finished predictions are "
              "kept and the same command resumes", file=sys.stderr)
        sys.exit(1)


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


if __name__ == "__main__":
    main()
