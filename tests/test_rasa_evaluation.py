"""`rasa test nlu` on the held-out set and `rasa test core` on the conversation tests.

Accuracy targets are benchmark figures (README); these tests guard against a broken model with
floors well below them, and check that Rasa's own evaluation runs on our pipeline.
"""
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RASA = str(Path(sys.executable).parent / "rasa")


def test_rasa_test_nlu_on_the_held_out_set(model_path, tmp_path):
    out = tmp_path / "nlu"
    subprocess.run([RASA, "test", "nlu", "--nlu", "tests/nlu_holdout", "--model", str(model_path),
                    "--out", str(out), "--no-plot"], cwd=ROOT, check=True, capture_output=True, timeout=900)
    report = json.loads((out / "intent_report.json").read_text())
    assert report["accuracy"] >= 0.85, report["accuracy"]


def test_conversation_tests_pass(model_path, tmp_path):
    out = tmp_path / "core"
    result = subprocess.run([RASA, "test", "core", "--stories", "tests/conversations", "--model", str(model_path),
                             "--out", str(out), "--fail-on-prediction-errors", "--no-plot"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    failed = (out / "failed_test_stories.yml")
    detail = failed.read_text() if failed.exists() else result.stdout[-3000:]
    assert result.returncode == 0, detail
