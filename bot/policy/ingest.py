"""Turn raw regulation text into the project's own cleaned copies and the structured corpus.

    python -m bot.policy.ingest add PATH --id ID --city 城市 [--title …] [--status …] …
        clean a raw file into bot/data/regulations/<id>.txt + <id>.meta.yml, then rebuild
    python -m bot.policy.ingest build
        rebuild bot/data/regulations/corpus.json from the cleaned copies

A bad file (empty, not UTF-8, no recognisable structure) is rejected with exit code 2 and nothing
is written.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .clean import IngestError, decode
from .metadata import DATE_KINDS, STATUSES, build_meta, read_meta, write_meta
from .script import DATA_DIR, normalise
from .structure import Parsed, parse

CORPUS_VERSION = 1
_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


def apply_fixes(text: str, fixes: list[dict]) -> str:
    for fix in fixes or []:
        if fix["from"] not in text:
            raise IngestError(f"fix not applicable, text not found: {fix['from']!r}")
        text = text.replace(fix["from"], fix["to"])
    return text


def render_clean_text(parsed: Parsed, meta: dict) -> str:
    """The cleaned copy: title, headnote, then one provision paragraph per line.

    Parsing this text again yields the same structure, so it is the single source for `build`."""
    lines = [meta["title_source"]]
    if meta.get("adoption_note"):
        lines.append(meta["adoption_note"])
    lines.append("")
    chapter = None
    for unit in parsed.units:
        if unit.kind == "preamble":
            lines += unit.paragraphs
            continue
        if unit.chapter is not None and unit.chapter != chapter:
            chapter = unit.chapter
            ch = parsed.chapters[chapter]
            sep = "　" if parsed.mode == "articles" else ""
            lines += ([] if lines[-1] == "" else [""]) + [f"{ch.label_source}{sep}{ch.title}"]
        if parsed.mode == "articles":
            heading = f"【{unit.heading}】" if unit.heading else ""
            lines.append(f"{unit.label_source}{heading}　{unit.paragraphs[0]}")
            lines += unit.paragraphs[1:]
        elif unit.label_source.endswith("、"):      # a top-level section's own intro text
            lines += unit.paragraphs
        else:
            marker = re.search(r"(（[^）]+）|\d+\.)$", unit.label_source).group(1)
            lines.append(f"{marker}{unit.paragraphs[0]}")
            lines += unit.paragraphs[1:]
    return "\n".join(lines).strip() + "\n"


def document_record(meta: dict, parsed: Parsed) -> dict:
    chapters = [{"label": c.label, "label_source": c.label_source, "title": c.title,
                 "title_norm": normalise(c.title), "number": c.number} for c in parsed.chapters]
    provisions = []
    if meta.get("adoption_note"):
        provisions.append({"kind": "note", "label": "题注", "label_source": "題注" if meta["script"] == "hant"
                           else "题注", "number": None, "heading": "", "chapter": None, "section": [],
                           "paragraphs": [meta["adoption_note"]]})
    for u in parsed.units:
        provisions.append({"kind": u.kind, "label": u.label, "label_source": u.label_source,
                           "number": u.number, "heading": u.heading, "chapter": u.chapter,
                           "section": u.section, "paragraphs": u.paragraphs})
    for p in provisions:
        p["doc_id"] = meta["id"]
        p["text"] = "\n".join(p["paragraphs"])
        p["search_text"] = normalise(p["text"])
        p["heading_norm"] = normalise(p["heading"])
    keys = ("id", "title", "title_source", "title_en", "city", "city_en", "aliases", "kind", "issuer",
            "doc_number", "status", "dates", "adoption_note", "script", "structure")
    return {**{k: meta.get(k) for k in keys}, "chapters": chapters, "provisions": provisions}


def build(data_dir: Path = DATA_DIR, out: Path | None = None) -> dict:
    out = out or data_dir / "corpus.json"
    documents = []
    for meta_path in sorted(data_dir.glob("*.meta.yml")):
        meta = read_meta(meta_path)
        text_path = data_dir / f"{meta['id']}.txt"
        parsed = parse(decode(text_path.read_bytes(), str(text_path)))
        documents.append(document_record(meta, parsed))
    if not documents:
        raise IngestError(f"no <id>.meta.yml files in {data_dir}")
    corpus = {"version": CORPUS_VERSION, "documents": documents}
    out.write_text(json.dumps(corpus, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return corpus


def add(path: Path, doc_id: str, city: str, data_dir: Path = DATA_DIR, rebuild: bool = True,
        **given) -> dict:
    """Clean a raw copy into the data folder. Everything is checked before anything is written."""
    if not _ID.match(doc_id):
        raise IngestError(f"--id must be a short lowercase name such as 'tonghua', got {doc_id!r}")
    if not path.is_file():
        raise IngestError(f"{path} does not exist")
    raw = decode(path.read_bytes(), str(path))
    meta_path = data_dir / f"{doc_id}.meta.yml"
    old = read_meta(meta_path) if meta_path.exists() else None
    raw_fixed = apply_fixes(raw, (old or {}).get("fixes"))
    parsed = parse(raw_fixed)
    try:
        meta = build_meta(doc_id, city, parsed.header, raw_fixed, parsed.mode, old, **given)
    except ValueError as exc:
        raise IngestError(str(exc)) from None
    text = render_clean_text(parsed, meta)
    check = parse(text)          # the cleaned copy must parse to the same provisions
    if [(u.label, u.paragraphs) for u in check.units] != [(u.label, u.paragraphs) for u in parsed.units]:
        raise IngestError("internal error: the cleaned copy does not parse back to the same provisions")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    write_meta(meta_path, meta)
    if rebuild:
        build(data_dir)
    return meta


def _summary(meta: dict, parsed: Parsed) -> str:
    kinds = {}
    for u in parsed.units:
        kinds[u.kind] = kinds.get(u.kind, 0) + 1
    counts = ", ".join(f"{n} {k}{'' if n == 1 else 's'}" for k, n in kinds.items())
    return f"{meta['id']}: 《{meta['title']}》 ({meta['city']}, {meta['status']}) — {len(parsed.chapters)} chapters, {counts}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot.policy.ingest", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add", help="clean a raw regulation file into the data folder")
    a.add_argument("path", type=Path)
    a.add_argument("--id", required=True, help="short lowercase id, the file stem (e.g. tonghua)")
    a.add_argument("--city", required=True, help="city in Chinese, e.g. 通化")
    a.add_argument("--city-en", help="city in pinyin/English, e.g. Tonghua")
    a.add_argument("--title", help="full title as in the source (default: found in the text)")
    a.add_argument("--title-en", help="English title used in English answers")
    a.add_argument("--status", choices=STATUSES)
    a.add_argument("--issuer", help="issuing body")
    a.add_argument("--doc-number", help="document number, e.g. 温委办发〔2011〕178号")
    a.add_argument("--kind", help="e.g. local regulation, municipal measures")
    a.add_argument("--date", action="append", default=[], metavar="KIND=YYYY-MM-DD",
                   help=f"repeatable; KIND is one of {', '.join(DATE_KINDS)}")
    a.add_argument("--alias", action="append", default=[], help="another name of the city (repeatable)")
    a.add_argument("--data-dir", type=Path, default=DATA_DIR, help=argparse.SUPPRESS)
    b = sub.add_parser("build", help="rebuild corpus.json from the data folder")
    b.add_argument("--data-dir", type=Path, default=DATA_DIR, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        if args.command == "add":
            dates = {}
            for item in args.date:
                kind, _, value = item.partition("=")
                if kind not in DATE_KINDS or not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
                    raise IngestError(f"--date wants KIND=YYYY-MM-DD with KIND in {DATE_KINDS}, got {item!r}")
                dates[kind] = value
            meta = add(args.path, args.id, args.city, data_dir=args.data_dir, title=args.title,
                       title_en=args.title_en, city_en=args.city_en, status=args.status,
                       issuer=args.issuer, doc_number=args.doc_number, kind=args.kind, dates=dates,
                       aliases=args.alias)
            parsed = parse((args.data_dir / f"{args.id}.txt").read_text(encoding="utf-8"))
            print(_summary(meta, parsed))
            print(f"wrote {args.data_dir / (args.id + '.txt')}, {args.id}.meta.yml (review it) and corpus.json")
        else:
            corpus = build(args.data_dir)
            for doc in corpus["documents"]:
                n = sum(1 for p in doc["provisions"] if p["kind"] in ("article", "section"))
                print(f"{doc['id']}: {n} provisions, {len(doc['chapters'])} chapters")
            print(f"wrote {args.data_dir / 'corpus.json'}")
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
