"""Ingestion of the regulations: structure per document, noise removed, 通化 normalisation, bad files."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bot.policy import ingest
from bot.policy.clean import IngestError
from bot.policy.corpus import load
from bot.policy.script import DATA_DIR, normalise
from bot.policy.structure import cn_to_int, int_to_cn, parse

DOC_IDS = ("tonghua", "wenzhou", "xinyang", "longgang", "sunwu")


@pytest.fixture(scope="module")
def corpus() -> dict:
    return json.loads((DATA_DIR / "corpus.json").read_text(encoding="utf-8"))


def _doc(corpus: dict, doc_id: str) -> dict:
    return next(d for d in corpus["documents"] if d["id"] == doc_id)


def _articles(doc: dict) -> list[dict]:
    return [p for p in doc["provisions"] if p["kind"] == "article"]


def test_every_document_has_its_cleaned_copy_and_metadata():
    for doc_id in DOC_IDS:
        assert (DATA_DIR / f"{doc_id}.txt").is_file()
        assert (DATA_DIR / f"{doc_id}.meta.yml").is_file()


@pytest.mark.parametrize("doc_id, articles, chapters", [
    ("tonghua", 45, 7), ("wenzhou", 30, 9), ("xinyang", 47, 7), ("longgang", 24, 5)])
def test_article_and_chapter_counts(corpus, doc_id, articles, chapters):
    doc = _doc(corpus, doc_id)
    arts = _articles(doc)
    assert len(arts) == articles
    assert [a["number"] for a in arts] == list(range(1, articles + 1))
    assert len(doc["chapters"]) == chapters
    assert all(a["paragraphs"] and all(p.strip() for p in a["paragraphs"]) for a in arts)


def test_labels_are_canonical_and_keep_the_source_spelling(corpus):
    tonghua = _articles(_doc(corpus, "tonghua"))
    assert tonghua[18]["label"] == "第十九条" and tonghua[18]["label_source"] == "第十九條"
    assert _articles(_doc(corpus, "xinyang"))[46]["label"] == "第四十七条"
    longgang = _articles(_doc(corpus, "longgang"))
    assert longgang[7]["heading"] == "网格配置"          # 【网格配置】 kept as the article heading


def test_sunwu_outline_sections(corpus):
    doc = _doc(corpus, "sunwu")
    assert doc["structure"] == "outline"
    sections = [p for p in doc["provisions"] if p["kind"] == "section"]
    labels = [p["label"] for p in sections]
    assert len(sections) == 25
    assert [c["title"] for c in doc["chapters"]] == ["总体要求", "城乡社区治理工作任务和职责分工", "强化组织保障"]
    assert {"一、(一)", "二、", "二、(三)", "二、(三)2.", "三、(四)"} <= set(labels)
    grid = next(p for p in sections if p["label"] == "二、(三)2.")
    assert grid["section"] == ["二、城乡社区治理工作任务和职责分工", "（三）优化多元服务参与治理", "2.优化社区网格服务"]
    assert grid["heading"] == "优化社区网格服务"
    assert any(p["kind"] == "preamble" for p in doc["provisions"])


def test_metadata(corpus):
    tonghua, wenzhou, longgang = (_doc(corpus, d) for d in ("tonghua", "wenzhou", "longgang"))
    assert tonghua["title"] == "通化市社区治理促进条例" and tonghua["city"] == "通化"
    assert tonghua["status"] == "in_force"
    assert tonghua["dates"] == {"passed": "2023-04-26", "approved": "2023-05-30", "published": "2023-06-02",
                                "effective": "2023-07-01"}
    assert wenzhou["doc_number"] == "温委办发〔2011〕178号" and wenzhou["status"] == "issued"
    assert longgang["status"] == "draft" and longgang["title"] == "龙港市社区治理条例（草案送审稿）"
    assert _doc(corpus, "xinyang")["dates"]["effective"] == "2025-03-01"


def _all_text(doc: dict) -> str:
    return "\n".join(p["text"] for p in doc["provisions"])


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_noise_is_gone(corpus, doc_id):
    text = _all_text(_doc(corpus, doc_id)) + (DATA_DIR / f"{doc_id}.txt").read_text(encoding="utf-8")
    assert not re.search(r"[—–-]\s*\d+\s*[—–-]", text)           # page numbers —3—
    assert "[bookmark" not in text
    assert not re.search(r"[•‣„‟†‡]", text)                      # odd quote marks
    assert not re.search(r"www\.|https?:|\.gov\.cn|\.doc|下载|上一篇|版权所有|相關詞條|聯絡我們|范文", text)
    assert "基本介紹" not in text and "中文名" not in text          # the encyclopedia summary of 通化


def test_page_breaks_are_rejoined():
    wenzhou = "".join(p.text for p in load()["wenzhou"].provisions)
    assert "职能事务规范、规章制度规范" in wenzhou                 # "规 —1— 范" across a page
    assert "做到样式统一、规范。" in wenzhou                       # "统 / 一、规范" is not an outline item
    xinyang = {p.label: p for p in load()["xinyang"].provisions}
    assert len(xinyang["第四十条"].paragraphs) == 2                # a paragraph that starts mid-page
    assert "安排居（村）民委员会办理协助事项清单内的工作事务" in xinyang["第四十条"].text
    assert "提高城乡社区治理科学化" in xinyang["第十四条"].text


def test_quotes_and_brackets_are_restored():
    wenzhou = "".join(p.text for p in load()["wenzhou"].provisions)
    assert "（中办发〔2010〕27号）" in wenzhou
    assert "逐项填写《社区工作准入审批表》" in wenzhou
    sunwu = "".join(p.text for p in load()["sunwu"].provisions)
    assert "（黑市发〔2012〕7号）" in sunwu
    assert "（责任单位：县委组织部、县纪委、县民政局）" in sunwu
    assert "开展“文明家庭”“优秀志愿者”等评选活动" in sunwu
    assert "“一站式”" in "".join(p.text for p in load()["xinyang"].provisions)


def test_tonghua_normalisation_finds_mainland_words_but_quotes_the_source():
    tonghua = {p.label: p for p in load()["tonghua"].provisions}
    art14 = tonghua["第十四条"]
    assert "格線長和格線員" in art14.text                      # the quote stays as published
    assert "网格长和网格员" in art14.search_text              # the search text speaks mainland
    assert "权限" in tonghua["第十九条"].search_text and "群众" in tonghua["第十九条"].search_text
    assert "数字化、智能化" in tonghua["第十条"].search_text and "互联网" in tonghua["第十条"].search_text
    assert "优化" in tonghua["第九条"].search_text and "响应" in tonghua["第二十五条"].search_text
    assert "智慧社区" in tonghua["第十条"].search_text          # the mainland term itself is untouched
    assert "網格" not in "".join(p.text for p in tonghua.values())


def test_normalise_term_fixes_from_data_file():
    assert normalise("社區格線化服務管理") == "社区网格化服务管理"
    assert normalise("基層民眾性自治組織") == "基层群众性自治组织"
    assert normalise("呼叫回響") == "呼叫响应"


def test_cleaned_copy_parses_back_to_the_same_corpus(tmp_path):
    out = tmp_path / "corpus.json"
    ingest.build(DATA_DIR, out)
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads((DATA_DIR / "corpus.json").read_text(encoding="utf-8"))


def test_chinese_numerals():
    assert [cn_to_int(x) for x in ("一", "十", "十九", "四十五", "一百零二")] == [1, 10, 19, 45, 102]
    assert [int_to_cn(n) for n in (1, 10, 19, 45, 102)] == ["一", "十", "十九", "四十五", "一百零二"]


# -- the add command ----------------------------------------------------------------------------------
RAW = """某市社区服务条例
（2024年1月2日某市人民代表大会常务委员会第一次会议通过）
第一章 总则
第一条 为了做好社区服务，制定本条例。
第二条 本条例适用于本市社区。社区居民委员会应当
—2—
公布办事指南。
第三条 本条例自2024年3月1日起施行。
相关链接
"""


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    d = tmp_path / "regulations"
    d.mkdir()
    for name in ("term_fixes.yml", "glossary_en_zh.yml", "synonyms_zh.yml", "places.yml"):
        shutil.copy(DATA_DIR / name, d / name)
    return d


def test_add_cleans_a_new_city_into_the_data_folder(tmp_path, data_dir, capsys):
    raw = tmp_path / "mou.txt"
    raw.write_text(RAW, encoding="utf-8")
    code = ingest.main(["add", str(raw), "--id", "moushi", "--city", "某", "--city-en", "Moushi",
                        "--data-dir", str(data_dir)])
    assert code == 0
    text = (data_dir / "moushi.txt").read_text(encoding="utf-8")
    assert "应当公布办事指南。" in text and "—2—" not in text and "相关链接" not in text
    meta = (data_dir / "moushi.meta.yml").read_text(encoding="utf-8")
    assert "effective: '2024-03-01'" in meta and "status: in_force" in meta
    corpus = json.loads((data_dir / "corpus.json").read_text(encoding="utf-8"))
    assert len(corpus["documents"][0]["provisions"]) == 4          # headnote + 3 articles


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"   \n\n  ", "empty"),
    ("第一条 测试。".encode("gb18030") * 5, "UTF-8"),
    ("这是一段没有条文编号的普通文字。\n只有几句话。\n".encode(), "no recognisable structure"),
    ("第一条 甲。\n第二条 乙。\n第五条 丙。\n".encode(), "gaps"),
])
def test_bad_files_are_rejected_and_nothing_is_written(tmp_path, data_dir, capsys, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    before = sorted(p.name for p in data_dir.iterdir())
    code = ingest.main(["add", str(bad), "--id", "bad", "--city", "坏", "--data-dir", str(data_dir)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in data_dir.iterdir()) == before


def test_parse_rejects_text_without_structure():
    with pytest.raises(IngestError):
        parse("只是一段话，没有任何条文。")
