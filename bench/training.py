"""The two models the benchmarks compare, and how long each takes to train.

- ours: models/current.tar.gz (`make train`). Its training time is measured by training the same
  config.yml once more into <cache>/ours/ (bot/cli has no option to train elsewhere).
- default: Rasa's own default pipeline and policies (what Rasa fills in for a config.yml that has
  no `pipeline`/`policies`) on the same domain.yml and nlu_data/, trained into <cache>/default/.

Both are kept with the measured time (meta.json) and reused while their fingerprint (config +
training data + Rasa version; for ours bot/cli's training fingerprint) is unchanged. Each timed
run has an empty Rasa cache of its own, so the time is a full training.

<cache> is BENCH_CACHE, else ~/.cache/community-bot/bench (XDG_CACHE_HOME honoured): outside the
checkout, because the default model takes 30 min–2 h on 2 cores and depends only on the data, not
on the clone, so a fresh clone on the same machine finds it (`make bench` then takes ≈ 7–12 min).

    .venv/bin/python -m bench.training [--force]
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Dict, Tuple

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("BENCH_CACHE") or
             Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "community-bot" / "bench")
OURS = ROOT / "models" / "current.tar.gz"
# Rasa's default config with `language: zh` is refused ("The component 'WhitespaceTokenizer' does not
# support the currently specified language 'zh'"), so the baseline keeps Rasa's default language too.
DEFAULT_CONFIG = """\
# Rasa's defaults: no pipeline, no policies -> rasa/engine/recipes/config_files/default_config.yml
# (WhitespaceTokenizer, RegexFeaturizer, LexicalSyntacticFeaturizer, CountVectors words + char_wb 1-4,
# DIET with its transformer, 100 epochs, ResponseSelector, FallbackClassifier 0.3; Memoization,
# Rule, UnexpecTED and TED policies). language: en is Rasa's default; zh is refused by WhitespaceTokenizer.
recipe: default.v1
assistant_id: bench-default
language: en
"""


TYPICAL_TIME = {"ours": "≈ 1 min", "default": "30 min–2 h"}


def _hash_inputs(*texts: str, paths=("domain.yml", "nlu_data")) -> str:
    digest = hashlib.sha256("\0".join(texts + (version("rasa"),)).encode())
    for name in paths:
        path = ROOT / name
        for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _train(config: Path, out: Path, name: str) -> Tuple[float, float]:
    """Full `rasa train` into `out`/`name`.tar.gz with an empty cache; returns its wall time and CPU time
    (user + system, all its threads and processes) in seconds. The CPU time hardly changes when other
    work shares the machine; the wall time does."""
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="bench-rasa-cache-"))
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", RASA_CACHE_DIRECTORY=str(cache))
    # glibc's malloc marks its memory for transparent huge pages (glibc >= 2.35; others ignore it):
    # TensorFlow's dense gradients for DIET's 155,000 character n-grams (≈ 80 MB each) were otherwise
    # faulted in anew, 4 KB at a time, at every step: 270,000 page faults/s, 40% system time, 85 s per
    # epoch instead of 47 here. The trained model is the same; only the default pipeline uses TF.
    env["GLIBC_TUNABLES"] = ":".join(filter(None, [os.environ.get("GLIBC_TUNABLES"), "glibc.malloc.hugetlb=1"]))
    log = out / "train.log"
    cpu_before = _children_cpu()
    started = time.perf_counter()
    try:
        with log.open("wb") as handle:
            subprocess.run([str(Path(sys.executable).parent / "rasa"), "train", "--force", "--config", str(config),
                            "--domain", "domain.yml", "--data", "nlu_data", "--out", str(out),
                            "--fixed-model-name", name], cwd=ROOT, env=env, check=True, stdout=handle,
                           stderr=subprocess.STDOUT)
    except subprocess.CalledProcessError:
        raise SystemExit(f"training {name} failed; see {log}")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return time.perf_counter() - started, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _commit() -> str:
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return run.stdout.strip() or "unknown"


def _cached(kind: str, fingerprint: str, config: Path, force: bool, stale_ok: bool = False) -> Dict:
    """The cached model and its training time; trained (and timed) when missing or out of date.
    `stale_ok`: an out-of-date model is used as it is, marked stale (never a missing one)."""
    directory = CACHE / kind
    meta_path, model = directory / "meta.json", directory / f"{kind}.tar.gz"
    if not force and meta_path.exists() and model.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") == fingerprint or stale_ok:
            return dict(meta, model=str(model), reused=True, stale=meta.get("fingerprint") != fingerprint)
    print(f"   training the {kind} model (full training, timed; {TYPICAL_TIME[kind]} on 2 cores, once per "
          f"training data, kept in {directory}) ...", flush=True)
    commit = _commit()
    seconds, cpu_seconds = _train(config, directory, kind)
    meta = {"fingerprint": fingerprint, "train_seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
            "cores": os.cpu_count(),
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit}
    meta_path.write_text(json.dumps(meta, indent=2))
    print(f"   trained the {kind} model in {seconds:.0f} s ({cpu_seconds:.0f} s of CPU)", flush=True)
    return dict(meta, model=str(model), reused=False, stale=False)


def default_model(force: bool = False) -> Dict:
    """{"model": path, "train_seconds", "trained_at", "reused", "stale"} for Rasa's default pipeline.

    Its training takes 30 min–2 h on 2 cores, so BENCH_REUSE_DEFAULT=1 keeps a cached model trained on
    older training data (the reports then say so) instead of training it again."""
    config = CACHE / "default-config.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(DEFAULT_CONFIG)
    stale_ok = os.environ.get("BENCH_REUSE_DEFAULT", "").strip() not in ("", "0")
    return _cached("default", _hash_inputs(DEFAULT_CONFIG), config, force, stale_ok)


def ours_training(force: bool = False) -> Dict:
    """Training time of our config.yml on the same data (the model itself: models/current.tar.gz)."""
    from bot.cli import training_fingerprint

    meta = _cached("ours", training_fingerprint(), ROOT / "config.yml", force)
    return dict(meta, model=str(OURS))


def stale_note(meta: Dict) -> str:
    if not meta.get("stale"):
        return ""
    return (" — STALE: trained on older training data than the current nlu_data/domain.yml "
            f"(commit {meta.get('commit', 'unknown')} or before; kept because BENCH_REUSE_DEFAULT=1)")


def main(argv=None) -> int:
    force = "--force" in (argv if argv is not None else sys.argv[1:])
    for kind, meta in (("ours", ours_training(force)), ("default", default_model(force))):
        print(f"{kind}: trained in {meta['train_seconds']:.0f} s at {meta['trained_at']}"
              f"{' (reused)' if meta['reused'] else ''}{stale_note(meta)} -> {meta['model']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
