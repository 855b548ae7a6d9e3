"""MCQ answer matching against VLMEvalKit's own can_infer (vlmeval/utils/matching_util.py as ms-vlmeval 0.0.20
ships it, loaded from the parity oracle's wheel with only its logger stood in): identical on generated answers.
The reference commit e8e78f05 adds one rule that 0.0.20 lacks ("(correct) answer is X"), checked on its own."""
import importlib.util
import logging
import sys
import types
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from vlmrun.scoring.mcq import extract

sys.path.insert(0, str(Path(__file__).parent / "parity"))
import host  # noqa: E402


def _vlmevalkit_can_infer():
    for name in ("vlmeval", "vlmeval.smp"):
        sys.modules.setdefault(name, types.ModuleType(name))
    log = types.ModuleType("vlmeval.smp.log")
    log.get_logger = logging.getLogger
    sys.modules["vlmeval.smp.log"] = log
    spec = importlib.util.spec_from_file_location("vlmeval_matching_util",
                                                  host.oracle_site() / "vlmeval" / "utils" / "matching_util.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.can_infer


CAN_INFER = _vlmevalkit_can_infer()
WORDS = ["A", "B", "C", "D", "E", "Z", "a", "the", "cat", "dog", "red", "answer", "is", "option", "(B)", "C.", "**D**",
         "I", "think", "Cannot determine the answer", "none", "of", "these", "2", "blue sky"]


@settings(max_examples=400, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS), max_size=14),
       opts=st.lists(st.sampled_from(["cat", "dog", "red", "blue sky", "2", "none of these"]), min_size=2, max_size=4,
                     unique=True))
def test_matching_is_vlmevalkits(words, opts):
    answer = " ".join(words)
    if "answer is" in answer.lower():
        return  # the e8e78f05 rule, below
    choices = {chr(65 + i): v for i, v in enumerate(opts)}
    theirs = CAN_INFER(answer, dict(choices))
    assert (extract(answer, choices) or False) == theirs, (answer, choices)


def test_the_answer_is_rule_of_the_reference_commit():
    choices = {"A": "cat", "B": "dog", "C": "red", "D": "blue"}
    long = "The correct answer is **B**. Here is why: A B C D are all shown, and so on and so on."
    assert extract(long, choices) == "B"  # several letters: the phrase decides
    assert extract("The answer is C.", choices) == "C"
    assert extract("A is wrong because the picture shows many other things clearly", choices) is None  # early letter
