"""The catalogue loads, and every schema error is one line naming the file, the field and what is allowed."""
import pytest
import yaml

from vlmrun.errors import VlmrunError
from vlmrun.manifest import Catalogue, available_adapters


def test_catalogue_loads_and_cross_references():
    cat = Catalogue()
    assert {"transformers-4.37", "transformers-latest"} <= set(cat.families)
    assert {"internvl2-2b", "qwen2-vl-2b", "tiny-qwen2-vl", "tiny-internvl"} <= set(cat.models)
    assert {"MME", "MME-mini", "POPE", "HallusionBench", "MMBench_DEV_EN", "SEEDBench_IMG", "MMStar", "AI2D_TEST",
            "ScienceQA_TEST", "RealWorldQA", "MMMU_DEV_VAL", "OCRBench", "TextVQA_VAL", "DocVQA_VAL",
            "ChartQA_TEST"} <= set(cat.benchmarks)
    for b in cat.benchmarks.values():  # video TSVs have no url (VLMEvalKit makes them from HF datasets), but an md5
        assert b.bundled or (b.url or "https://").startswith("https://") and len(b.md5) == 32, b.name
    assert cat.model("internvl2-2b").family == "transformers-4.37"
    assert cat.model("qwen2-vl-2b").family == "transformers-latest"
    assert set(available_adapters()) >= {"qwen2_vl", "internvl_chat"}
    mme = cat.benchmark("MME")
    assert (mme.rows, mme.md5) == (2374, "b36b43c3f09801f5d368627fb92187c3")


def _edit(path, **changes):
    data = yaml.safe_load(path.read_text())
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize("changes, expected", [
    ({"adapter": "nope"}, "field 'adapter': 'nope' is not one of ['chameleon', 'glm4v', 'idefics', 'idefics2', 'instructblip', 'internvl_chat', "
                          "'kosmos2', 'llava_hf', 'mantis', 'minicpm_v', 'mllama', 'paligemma', 'phi3_vision', 'qwen2_vl', 'qwen_vl', 'qwen_vl_base', 'video_llava']"),
    ({"family": "transformers-9"}, "field 'family': 'transformers-9' is not one of"),
    ({"dtype": "int4"}, "field 'dtype': must be 'float32', 'bfloat16' or 'float16'"),
    ({"batch_size": 0}, "field 'batch_size': Input should be greater than 0"),
    ({"adapterr": "qwen2_vl"}, "field 'adapterr': unknown field"),
    ({"family": None}, "field 'family': required field is missing"),
    ({"name": "other"}, "field 'name': 'other' must match the file name 'qwen2-vl-2b'"),
    ({"source": {"hub": "a/b", "tiny": "qwen2_vl"}}, "field 'source': Value error, give exactly one of"),
])
def test_model_manifest_errors_name_file_and_field(project_copy, changes, expected):
    path = project_copy / "manifests" / "models" / "qwen2-vl-2b.yaml"
    _edit(path, **changes)
    with pytest.raises(VlmrunError) as e:
        Catalogue(project_copy)
    msg = str(e.value)
    assert msg.startswith(f"invalid manifest {path}: ")
    assert expected in msg
    assert "\n" not in msg


def test_benchmark_and_family_errors(project_copy):
    b = project_copy / "manifests" / "benchmarks" / "MME.yaml"
    _edit(b, scorer="bleu")
    with pytest.raises(VlmrunError, match=r"MME.yaml: field 'scorer': must be 'mme'"):
        Catalogue(project_copy)
    _edit(b, scorer="mme")
    f = project_copy / "manifests" / "families" / "transformers-4.37.yaml"
    data = yaml.safe_load(f.read_text())
    del data["flavours"]["cpu"]
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(VlmrunError, match=r"field 'flavours': Value error, a family needs a 'cpu' flavour"):
        Catalogue(project_copy)


def test_invalid_yaml_names_the_line(project_copy):
    p = project_copy / "manifests" / "models" / "tiny-internvl.yaml"
    p.write_text("name: tiny-internvl\nfamily: [unclosed\n")
    with pytest.raises(VlmrunError, match=r"tiny-internvl.yaml: line \d+: not valid YAML"):
        Catalogue(project_copy)


def test_unknown_names_list_the_valid_ones():
    cat = Catalogue()
    with pytest.raises(VlmrunError, match="unknown model 'gpt-5'; valid models: ") as err:
        cat.model("gpt-5")
    assert str(err.value).split("valid models: ")[1].split(", ") == sorted(cat.models)  # every one, in order
    with pytest.raises(VlmrunError, match="unknown benchmark 'MMX'; valid benchmarks: AI2D_TEST, .*MME, MME-mini"):
        cat.benchmark("MMX")
