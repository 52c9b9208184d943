"""The training data keeps to the taxonomy and stays apart from every set that measures it."""
import csv
import re

import pytest
import yaml

from bench.nlu_eval import HOLDOUT, LETTERS, TIPDM, load_holdout
from bot.language import normalise_for_nlu
from bot.tickets.routing import CATEGORIES, INTENTS
from tests.conftest import ROOT

TRAINING = sorted((ROOT / "nlu_data" / "nlu").glob("*.yml"))
# Tokens in a row (a Chinese character, a punctuation mark or a Latin word each) that two
# independently written messages do not share by chance; greetings like 尊敬的社区领导：您好！我是 are shorter.
RUN = 20
_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def training_rows():
    return [row for path in TRAINING for row in load_holdout(path)]


def runs(text: str, n: int = RUN):
    tokens = _TOKEN.findall(normalise_for_nlu(text))
    return {" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def test_labels_are_taxonomy_keys():
    intents = set(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"])
    rows = training_rows()
    assert len(rows) > 6000
    assert {r["intent"] for r in rows} <= intents
    assert {r["category"] for r in rows if r["category"]} <= set(CATEGORIES)
    assert {r["urgent"] for r in rows if r["urgent"]} <= {"fire", "medical", "police"}


@pytest.mark.parametrize("held_out", [HOLDOUT, LETTERS], ids=lambda p: p.name)
def test_held_out_messages_are_not_in_the_training_data(held_out):
    seen = set().union(*(runs(r["text"]) for r in training_rows()))
    # Dialogue phrases ("你好", "好的") are the same whoever writes them; a resident's case is not.
    exact = {normalise_for_nlu(r["text"]) for r in training_rows() if r["intent"] in INTENTS}
    copied = [r["text"] for r in load_holdout(held_out)
              if (r["intent"] in INTENTS and normalise_for_nlu(r["text"]) in exact) or runs(r["text"]) & seen]
    assert copied == []


def test_no_training_message_comes_from_the_real_benchmark_messages():
    if not TIPDM.exists():
        pytest.skip(f"{TIPDM} is absent (it is read from ../shared, never shipped)")
    with TIPDM.open(encoding="utf-8") as handle:
        benchmark = set().union(*(runs(f"{r['留言主题']} {r['留言详情']}") for r in csv.DictReader(handle)))
    assert [r["text"] for r in training_rows() if runs(r["text"]) & benchmark] == []
