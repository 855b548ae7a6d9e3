"""Packages published only as an sdist (Qwen-VL's transformers_stream_generator): built into a wheel on the host,
the same bytes on every machine, so the family lock can pin the built wheel's hash."""
import hashlib
import re

import pytest

from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue
from vlmrun.sdists import build_sdists, parse


def test_an_sdist_entry_needs_a_pinned_version_and_the_sdists_hash():
    assert parse("transformers-stream-generator==0.0.5 --hash=sha256:" + "a" * 64)[:2] == (
        "transformers-stream-generator", "0.0.5")
    for bad in ("transformers-stream-generator", "transformers-stream-generator==0.0.5",
                "transformers-stream-generator>=0.0.5 --hash=sha256:" + "a" * 64):
        with pytest.raises(VlmrunError, match="write it as 'name==version --hash=sha256:"):
            parse(bad)


def test_the_built_wheel_is_the_one_the_lock_pins(tmp_path, monkeypatch):
    """Built twice in fresh caches (a fresh machine's), the wheel has the same sha256 as each other and as the lock,
    which was written on another machine: `pip install --require-hashes` in the image build accepts it."""
    fam = Catalogue().family("transformers-4.33")
    entries = fam.flavours["cpu"].sdists
    assert entries == fam.flavours["cuda"].sdists and len(entries) == 1
    lock = (Catalogue().root / fam.flavours["cpu"].lock).read_text()
    (pin,) = re.findall(r"(?m)^transformers-stream-generator==0\.0\.5 \\\n    --hash=sha256:([0-9a-f]{64})", lock)
    digests = []
    for k in range(2):
        monkeypatch.setenv("VLMRUN_CACHE", str(tmp_path / f"cache{k}"))
        (whl,) = list(build_sdists(entries, log=lambda *_: None).glob("*.whl"))
        assert whl.name == "transformers_stream_generator-0.0.5-py3-none-any.whl"
        digests.append(hashlib.sha256(whl.read_bytes()).hexdigest())
    assert digests == [pin, pin]


def test_a_wrong_sdist_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMRUN_CACHE", str(tmp_path))
    with pytest.raises(VlmrunError, match="downloading the sdist of transformers-stream-generator==0.0.5 failed"):
        build_sdists(["transformers-stream-generator==0.0.5 --hash=sha256:" + "0" * 64], log=lambda *_: None)
