"""Output for CI logs: plain progress lines instead of live bars, JSON lists, image builds that show their steps
and keep the full log in a file."""
import io
import json

from rich.console import Console

from vlmrun.progress import LineProgress, make_progress

from .conftest import run_cli


def test_progress_in_a_log_is_a_line_per_state_change_and_at_most_one_per_period():
    buf = io.StringIO()
    console = Console(file=buf, width=300)
    assert not console.is_terminal and isinstance(make_progress(console), LineProgress)
    with LineProgress(console, every=3600) as p:
        t = p.add_task("a-very-long-model-name-that-stays-whole · MME", total=100, status="waiting")
        p.update(t, status="[cyan]inference")
        for _ in range(100):
            p.advance(t, 1)  # 100 advances inside one period: no line
        p.update(t, status="[green]done")
    lines = buf.getvalue().splitlines()
    assert lines == ["a-very-long-model-name-that-stays-whole · MME: 0/100 rows, inference, 0:00",
                     "a-very-long-model-name-that-stays-whole · MME: 100/100 rows, done, 0:00"]


def test_progress_lines_every_period_while_rows_advance():
    buf = io.StringIO()
    with LineProgress(Console(file=buf, width=300), every=0) as p:
        t = p.add_task("m · b", total=3, status="inference")
        for _ in range(3):
            p.advance(t, 1)
    assert [l.split(",")[0] for l in buf.getvalue().splitlines()] == ["m · b: 1/3 rows", "m · b: 2/3 rows",
                                                                       "m · b: 3/3 rows"]
    assert "rows/s" in buf.getvalue().splitlines()[-1]


def test_lists_as_json():
    models = json.loads(run_cli("models", "list", "--json").stdout)
    demo = next(m for m in models if m["name"] == "demo-qwen2-vl")
    assert demo == {"name": "demo-qwen2-vl", "family": "transformers-latest", "adapter": "qwen2_vl",
                    "source": "tiny:qwen2_vl_demo (test model)", "revision": "", "params_b": None,
                    "weights_gib": None, "gpus_80gb": None, "remote_code": False, "cpu": True, "batch": 4}
    full = next(m for m in models if m["name"] == "idefics-80b-instruct")
    assert len(full["revision"]) == 40  # whole, not cut to fit a terminal
    benches = json.loads(run_cli("bench", "list", "--json").stdout)
    assert {"name": "MME-mini", "type": "yorn", "scorer": "mme", "rows": 56, "file": "data/MME-mini.tsv",
            "present": "yes"} in benches
