"""`--judge MODEL`: a model reads the answers that no rule can, as VLMEvalKit's judge does (its default is
`exact_matching`: no judge, unreadable answers count wrong).

Only the answers the rules fail on are sent (Y/N: YOrN_Extraction finds neither or both of yes/no; MCQ: can_infer
finds no single option), with VLMEvalKit's prompts (vlmeval/dataset/utils/yorn.py YOrN_match_prompt, up to 5
tries at temperature 0.5*i; multiple_choice.py build_prompt / build_prompt_cn with build_option_str). The judge's
verdict replaces the answer in the scoring copy only (predictions stay as the model gave them); an MCQ answer the
judge cannot place either stays unmatched, counted wrong (VLMEvalKit draws a random option there; vlmrun stays
deterministic); rows without options (MMMU's open questions) are left to their scorer. Judge calls go through the API request cache. The scores record the judge and how many answers it
decided ('judged').

The judge is an API model (source.api), or a local zoo model, which is then served for the scoring (`vlmrun serve`
on a free loopback port, stopped afterwards): nothing leaves the machine."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

import pandas as pd

from vlmrun_worker.adapters.base import has_chinese

from . import scoring
from .container import serve_container_name
from .errors import VlmrunError
from .paths import cache_dir
from .scoring.mcq import extract as mcq_extract
from .scoring.mcq import options as mcq_options
from .scoring.mme import yorn_vlmevalkit

EXACT = "exact_matching"


def yorn_prompt(question: str, prediction: str) -> str:
    return ("You are an AI assistant who will help me to match an answer with two options of a question. "
            "The options are only Yes / No. "
            "You are provided with a question and an answer, "
            "and you need to find which option (Yes / No) is most similar to the answer. "
            "If the meaning of all options are significantly different from the answer, output Unknown. "
            "Your should output a single word among the following 3 choices: Yes, No, Unknown.\n"
            "Example 1: \n"
            "Question: Is the word in this image 'Hello'?\nAnswer: The word in this image is 'Hello'.\nYour output: Yes\n"
            "Example 2: \n"
            "Question: Is the word in this image 'Hello'?\n"
            "Answer: The word in this image is not 'Hello'.\nYour output: No\n"
            "Example 3: \n"
            f"Question: {question}?\nAnswer: {prediction}\nYour output: ")


def option_str(choices: dict) -> str:
    return "There are several options: \n" + "".join(f"{c}. {v}\n" for c, v in choices.items())


def mcq_prompt(question: str, choices: dict, prediction: str) -> str:
    opts = option_str(choices)
    if has_chinese(question):
        return ("你是一个帮助我匹配答案与单选题中多个选项的 AI 助手。"
                "你会被提供：一个问题，多个选项，一个答案。你的任务是找到与答案意义最相近的选项。"
                "如果所有选项的意义都与答案显著不同，则输出 Z。"
                "你应该输出一个单个的大写字母，例如 A, B, C, D（如果它们是有效选项），或 Z。"
                "例 1:"
                "问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 一只可爱的泰迪熊\n输出: A\n"
                "例 2: \n"
                "问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 蜘蛛\n输出: Z\n"
                "例 3: \n"
                f"问题: {question}?\n选项: {opts}\n答案: {prediction}\n输出: ")
    return ("You are an AI assistant who will help me to match "
            "an answer with several options of a single-choice question. "
            "You are provided with a question, several options, and an answer, "
            "and you need to find which option is most similar to the answer. "
            "If the meaning of all options are significantly different from the answer, output Z. "
            "Your should output a single uppercase character in A, B, C, D (if they are valid options), and Z. \n"
            "Example 1: \n"
            "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
            "Answer: a cute teddy bear\nYour output: A\n"
            "Example 2: \n"
            "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
            "Answer: Spider\nYour output: Z\n"
            "Example 3: \n"
            f"Question: {question}?\nOptions: {opts}\nAnswer: {prediction}\nYour output: ")


class Judge:
    """A judge model's chat endpoint, connected (or, for a local zoo model, served) at the first question: a run
    whose answers all parse never starts one. Calls are cached under a stable id (the API's URL, or
    'vlmrun-serve://MODEL' for a served model, whose port changes per run)."""

    def __init__(self, cat, name: str, work_dir: Path, log=print, backend: str = "docker"):
        self.model = cat.model(name)
        self.name, self.work_dir, self.log, self.backend = name, work_dir, log, backend
        self._proc, self._container, self.client = None, None, None
        api = self.model.source.api
        if api and api.key_missing():
            raise VlmrunError(f"--judge {name} reads its API key from ${api.key_env}, which is not set")

    def _connect(self):
        from vlmrun_worker.api_client import Client

        api = self.model.source.api
        if api:
            key = os.environ.get(api.key_env) if api.key_env else None
            self.model_id = api.model
            self.client = Client(api.base_url, key, api.timeout_s, api.retries, api.retry_wait_s, cache_dir() / "api")
        else:
            self.model_id = self.name
            self.client = Client(self._serve(), None, 600, 3, 1.0, cache_dir() / "api",
                                 cache_id=f"vlmrun-serve://{self.name}")

    def _serve(self) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.work_dir / f"judge-{self.name}-{port}.log"
        self.log(f"judge: serving {self.name} on 127.0.0.1:{port} for the scoring (log: {log_path})")
        self._container = serve_container_name(self.name, port)
        with open(log_path, "w") as out:  # a file, not a pipe nobody reads while an image builds
            self._proc = subprocess.Popen([sys.executable, "-m", "vlmrun.cli", "serve", self.name, "--port", str(port),
                                           "--backend", self.backend, "--work-dir", str(self.work_dir)],
                                          stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
        try:
            deadline = time.monotonic() + 1800  # its image may be built first
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    tail = " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-3:])
                    raise VlmrunError(f"--judge {self.name}: serving it failed: {tail[-300:]} (log: {log_path})")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        return f"http://127.0.0.1:{port}/v1"
                except OSError:
                    time.sleep(0.5)
            raise VlmrunError(f"--judge {self.name}: the server did not start in 30 minutes (log: {log_path})")
        except BaseException:
            self.close()
            raise

    def ask(self, prompt: str, temperature: float = 0.0, max_tokens: int = 64, system: Optional[str] = None) -> str:
        from vlmrun_worker.api_client import ApiError

        if self.client is None:
            self._connect()
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        try:
            return self.client.chat({"model": self.model_id, "messages": messages, "temperature": temperature,
                                     "max_tokens": max_tokens})
        except ApiError as e:
            raise VlmrunError(f"judge {self.name}: {e}") from None

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # Ctrl-C: `vlmrun serve` removes its container
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                if self._container:
                    subprocess.run(["docker", "rm", "-f", self._container], capture_output=True)
        self._proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def applies(scorer: str, bench_type: str) -> bool:
    """Whether a judge has a part in scoring this benchmark: it scores it (open-ended, MMBench-Video), reads what
    its rules cannot (video MCQ), or reads the Y/N and MCQ answers no rule can."""
    sc = scoring.get(scorer)
    return sc.judge or sc.judge_optional or bench_type in ("yorn", "mcq")


def score_with(scorer: str, bench_type: str, df: pd.DataFrame, scoring_name: str, judge: Optional[Judge]) -> dict:
    """The benchmark's scores, the judge taking its part where it has one; for Y/N and MCQ with a judge, 'judged'
    counts the answers it decided."""
    sc = scoring.get(scorer)
    judge = judge if applies(scorer, bench_type) else None
    if judge is None or sc.judge or sc.judge_optional:
        return scoring.score(scorer, df, scoring_name, judge=judge)
    df, decided = judged(df, bench_type, judge)
    return {**scoring.score(scorer, df, scoring_name), "judged": decided}


def judged(df: pd.DataFrame, bench_type: str, judge: Optional[Judge]) -> tuple[pd.DataFrame, int]:
    """The scoring copy of the predictions with the judge's verdict where the rules fail; and how many answers the
    judge decided."""
    if judge is None or bench_type not in ("yorn", "mcq"):
        return df, 0
    df = df.copy()
    decided = 0
    for i, row in df.iterrows():
        pred = "" if pd.isna(row["prediction"]) else str(row["prediction"])
        if bench_type == "yorn":
            if yorn_vlmevalkit(pred) != "Unknown":
                continue
            for k in range(5):
                verdict = yorn_vlmevalkit(judge.ask(yorn_prompt(str(row["question"]), pred), temperature=0.5 * k))
                if verdict != "Unknown":
                    df.at[i, "prediction"] = verdict
                    decided += 1
                    break
        else:
            choices = mcq_options(row)
            if not choices or mcq_extract(pred, choices) is not None:
                continue  # no options (an MMMU open question: its scorer makes them) or the rules read it
            letter = mcq_extract(judge.ask(mcq_prompt(str(row["question"]), choices, pred)), choices)
            if letter is not None:
                df.at[i, "prediction"] = letter
                decided += 1
    return df, decided

