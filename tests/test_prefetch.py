"""The worker's prefetch: batches come out in order whatever the number of threads, preprocessing runs ahead
of the model, an error in preprocessing reaches the model loop, and each thread gets its own processor."""
import base64
import io
import threading
import time

import pytest
from PIL import Image

from vlmrun_worker.adapters.base import PerThread
from vlmrun_worker.data import Row
from vlmrun_worker.run import Prefetch, job_cores, plan_prefetch


def _rows(n):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="PNG")
    b64 = base64.b64encode(buf.getvalue()).decode()
    return [Row(index=str(i), question=f"q{i}", image_b64=b64) for i in range(n)]


@pytest.mark.parametrize("workers", [1, 3])
def test_batches_come_out_in_order_with_any_number_of_threads(workers):
    seen_threads = set()

    def prepare(batch):
        seen_threads.add(threading.current_thread().name)
        time.sleep(0.01 * (int(batch[0].index) % 3))  # later batches may finish first
        return [s.question for s in batch]

    feed = Prefetch(_rows(23), 4, prepare, workers)
    out = list(feed)
    assert [len(b) for b, _ in out] == [4, 4, 4, 4, 4, 3]
    assert [s.index for b, _ in out for s in b] == [str(i) for i in range(23)]
    assert all(p == [s.question for s in b] for b, p in out)
    assert out[0][0][0].image.size == (8, 8)  # images decoded in the background
    assert all(name.startswith("vlmrun-prefetch") for name in seen_threads)
    assert len(seen_threads) <= workers


def test_preprocessing_runs_ahead_so_the_model_does_not_wait():
    def prepare(batch):
        time.sleep(0.05)
        return None

    feed = Prefetch(_rows(12), 2, prepare, workers=3)
    t0 = time.monotonic()
    for _ in feed:
        time.sleep(0.05)  # the "model" takes as long as preprocessing
    wall = time.monotonic() - t0
    # 6 batches: serial work would take 0.6 s; overlapped, about 0.35 s
    assert wall < 0.5
    assert feed.waited_s < 0.15
    assert feed.prepare_s >= 6 * 0.05 * 0.9


def test_a_preprocessing_error_reaches_the_model_loop():
    def prepare(batch):
        if batch[0].index == "4":
            raise ValueError("bad image")
        return None

    got = []
    with pytest.raises(ValueError, match="bad image"):
        for b, _ in Prefetch(_rows(10), 2, prepare, workers=2):
            got.append(b[0].index)
    assert got == ["0", "2"]


def test_each_prefetch_thread_gets_its_own_processor_copy():
    proc = {"padding_side": "left"}
    per = PerThread(proc)
    assert per.get() is proc  # the main thread keeps the original
    copies = []
    t = [threading.Thread(target=lambda: copies.append((per.get(), per.get()))) for _ in range(2)]
    [x.start() for x in t]
    [x.join() for x in t]
    (a1, a2), (b1, b2) = copies
    assert a1 is a2 and b1 is b2  # one copy per thread, reused
    assert a1 is not b1 and a1 is not proc and a1 == proc


def test_prefetch_is_sized_together_from_the_cores():
    plan = plan_prefetch  # (how, workers, torch threads) per rank
    assert plan("cpu", 1, cores=2) == ("inline", 0, 2)  # few cores: inline, torch gets them all
    assert plan("cpu", 2, cores=2) == ("inline", 0, 1)
    assert plan("cpu", 1, cores=16) == ("threads", 1, 15)
    assert plan("cpu", 2, cores=16) == ("threads", 1, 7)
    assert plan("cpu", 1, prefetch=3, cores=16) == ("threads", 3, 13)  # --prefetch wins
    assert plan("cpu", 1, prefetch=0, cores=16) == ("inline", 0, 16)
    assert plan("cpu", 1, cores=16, processes=True) == ("threads", 1, 15)  # processes only beside a GPU
    # on a GPU torch's CPU threads are left alone; an adapter without a model-free preparer: one thread (more
    # hold the GIL against the kernel launches)
    assert plan("cuda:0", 1, cores=16) == ("threads", 1, None)
    assert plan("cuda:0", 8, cores=16) == ("threads", 1, None)
    assert plan("cuda:0", 4, cores=2) == ("threads", 1, None)
    # one with a preparer: prefetch processes, one per spare core, at most 4
    assert plan("cuda:0", 1, cores=16, processes=True) == ("processes", 4, None)
    assert plan("cuda:0", 4, cores=12, processes=True) == ("processes", 2, None)
    assert plan("cuda:0", 8, cores=8, processes=True) == ("processes", 1, None)
    assert plan("cuda:0", 1, prefetch=6, cores=16, processes=True) == ("processes", 6, None)
    assert plan("cuda:0", 1, prefetch=0, cores=16, processes=True) == ("inline", 0, None)
    assert 1 <= job_cores() <= 4096


def test_inline_preparation_uses_no_thread():
    seen = set()

    def prepare(batch):
        seen.add(threading.current_thread().name)
        return len(batch)

    out = list(Prefetch(_rows(10), 4, prepare, 0))
    assert [p for _, p in out] == [4, 4, 2] and seen == {threading.main_thread().name}


def test_rows_are_grouped_by_image_size_and_text_length():
    from vlmrun_worker.data import group_by_length, length_key

    def row(i, size, q="q"):
        buf = io.BytesIO()
        Image.new("RGB", size).save(buf, format="PNG")
        return Row(index=str(i), question=q, image_b64=base64.b64encode(buf.getvalue()).decode())

    rows = [row(0, (900, 600)), row(1, (100, 100)), row(2, (900, 600), "longer question"), row(3, (100, 100)),
            Row(index="4", question="q", image_b64="not base64!")]
    order = [r.index for r in group_by_length(rows)]
    assert order == ["4", "1", "3", "0", "2"]  # unreadable first (it fails where it is loaded), then by size
    assert length_key(rows[0])[:2] == (1, ((540000, 900, 600),))


@pytest.mark.parametrize("workers", [0, 2])
def test_resize_grows_later_batches_and_keeps_every_row_once_in_order(workers):
    feed = Prefetch(_rows(40), 4, None, workers)
    sizes, order = [], []
    for i, (batch, _) in enumerate(feed):
        if i == 0:
            feed.resize(16)  # what the worker does on a GPU after the first batch
        sizes.append(len(batch))
        order += [s.index for s in batch]
    assert order == [str(i) for i in range(40)]
    assert sizes[0] == 4 and max(sizes) == 16
    # chunks already handed to a thread keep their size: at most workers + 1 of them after the first
    assert sizes.count(4) <= 1 + workers + 1


def test_choose_batch_fills_the_spare_memory_within_the_bounds():
    from vlmrun_worker.run import choose_batch

    gib = 2**30
    assert choose_batch(0.25 * gib, 100 * gib, 8, 64) == 64       # plenty of memory: the manifest's most
    assert choose_batch(0.25 * gib, 5 * gib, 8, 64) == 16         # 0.8 * 5 / 0.25 = 16
    assert choose_batch(0.25 * gib, 7 * gib, 8, 64) == 16         # 22 rounded down to a multiple of 8
    assert choose_batch(2 * gib, 5 * gib, 8, 64) == 8             # never below the starting size
    assert choose_batch(0, 5 * gib, 8, 64) == 8                   # nothing measured: no growth


@pytest.mark.parametrize("workers", [0, 2])
def test_a_batch_never_mixes_rows_with_different_numbers_of_images(workers):
    """transformers 4.37's Llava answers differently for a row batched with rows of more images (the parity
    suite's MMMU case): the feed cuts a batch where the image count changes."""
    one = _rows(1)[0].image_b64
    counts = [1, 1, 1, 2, 2, 3, 1, 1]
    rows = [Row(index=str(i), question="q", image_b64=one if n == 1 else [one] * n) for i, n in enumerate(counts)]
    out = [[s.index for s in b] for b, _ in Prefetch(rows, 4, None, workers)]
    assert out == [["0", "1", "2"], ["3", "4"], ["5"], ["6", "7"]]


def test_prefetch_processes_share_the_cores_but_the_main_ones():
    from vlmrun_worker.procs import threads_each

    assert threads_each(4, 16) == 3  # 15 cores for 4 processes
    assert threads_each(1, 16) == 15
    assert threads_each(4, 2) == 1 and threads_each(1, 1) == 1
