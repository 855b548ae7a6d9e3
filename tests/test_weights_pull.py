"""eval's weights step: a missing pinned snapshot is pulled before any container starts; found ones are used as
they are; offline, or when the pull fails, one line names the command to run."""
import pytest

from vlmrun import weights
from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue

REV = "e4f6747bd20f139e637642c6a058c6bd00b36919"


@pytest.fixture
def hf(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path / "hf" / "hub" / "models--OpenGVLab--InternVL2-2B" / "snapshots" / REV


def test_missing_snapshot_is_pulled_then_used(hf, monkeypatch):
    pulled = []

    def fake_pull(model, source, log):
        pulled.append((model.name, source))
        hf.mkdir(parents=True)
        (hf / "config.json").write_text("{}")
        return hf

    monkeypatch.setattr(weights, "pull", fake_pull)
    model = Catalogue().model("internvl2-2b")
    assert weights.ensure_weights(model, log=lambda s: None) == hf
    assert pulled == [("internvl2-2b", "hf")]
    assert weights.ensure_weights(model, log=lambda s: None) == hf and len(pulled) == 1  # found: no second pull


def test_offline_or_failed_pull_is_one_line_naming_the_command(hf, monkeypatch):
    model = Catalogue().model("internvl2-2b")

    def failing_pull(model, source, log):
        raise VlmrunError("pulling OpenGVLab/InternVL2-2B from the hub failed (ConnectError: refused)")

    monkeypatch.setattr(weights, "pull", failing_pull)
    with pytest.raises(VlmrunError) as e:
        weights.ensure_weights(model, log=lambda s: None)
    assert "run `vlmrun models pull internvl2-2b`" in str(e.value) and "pulling from the hub failed" in str(e.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(weights, "pull", lambda *a, **k: pytest.fail("offline: no pull"))
    with pytest.raises(VlmrunError, match="run `vlmrun models pull internvl2-2b`"):
        weights.ensure_weights(model, log=lambda s: None)
