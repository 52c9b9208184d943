"""What a question asks for: which cities it names, and its content as retrieval units.

A unit is one concept of the question with the Chinese words that satisfy it: a resident's word with
its synonyms (居委会 → 居民委员会), or an English phrase with its glossary translations
(grid worker → 网格员). English words the glossary does not know stay as units without Chinese words:
they still count against a weak match, which is what keeps "passport" questions unanswered.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import yaml

from .corpus import Document
from .script import DATA_DIR, normalise
from .tokens import STOPWORDS, segmenter
from ..asking import asking_part

EN_STOPWORDS = frozenset("""
a an the of in on at to for with by from about as and or but if so than then also just not no nor
i i'm me my mine we us our ours you your yours he him his she her it its they them their this that these those
there here what what's which who who's whom whose when where how why whether
do does did done doing is are was were be been being am have has had having can could should would will shall
must may might need needs want wants wanted get gets got give gives make makes made let tell know please thanks
thank hi hello dear sir madam say says said mean means meant
any some all each every many much more most less least few several other another same such own only very too
rule rules regulation regulations law laws legal policy policies local city town document documents text
article articles provision provisions section sections clause chapter paragraph chinese english answer
happen happens supposed allowed require requires required requirement requirements set up there's
community communities one two three four five six seven eight nine ten first second number numbers
draft plan minimum maximum least at per exactly approximately around roughly else into onto upon via s t
live living lives my neighbourhood neighborhood area here our
""".split())

# Everyday English words: when the glossary does not know them they still say little about the topic
# (unlike "passport" or "visa"), so they weigh less against a match. See Index._unit_weight.
EN_GENERIC = frozenset("""
work works working job thing things stuff people person persons way ways kind kinds type types part parts place
places time times year years day days month new old good bad big small large major minor main important general
special certain different various usual common normal local public private whole full real true right wrong
make made use used using get got give given take taken put keep kept let help helps helped happen happened
say said tell told ask asked find found think know see seen look looks looked show shows shown run runs go goes
going come comes coming want need needs like likes also still even ever never always often sometimes usually
specific detail details information info question questions answer issue issues matter matters case cases
area areas side level levels form forms point points number numbers amount group groups system systems
service services measure measures rule rules regulation regulations provision provisions law laws plan plans
policy policies document documents empower empowerment practice practices arrangement arrangements
allow allows allowed let lets anyone anybody someone somebody everyone everybody thing basis daily everyday
day-to-day build builds building built pay pays paid able can cannot must become becomes becoming supposed
really actually possible properly exactly whole each enough kind sort
""".split())

_EN_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_CJK_RUN = re.compile(r"[\u3400-\u9fff][\u3400-\u9fff\s，。？！、]*")


@dataclass(frozen=True)
class Unit:
    said: str                          # the resident's word or phrase
    alternatives: tuple[str, ...]      # Chinese words that satisfy it (empty: unknown English word)
    english: bool = False
    generic: bool = False              # an everyday English word the glossary does not know


@dataclass
class Query:
    text: str
    lang: str
    cities: tuple[str, ...]            # corpus cities named in the question
    other_place: str | None            # a place outside the corpus, named without any corpus city
    units: list[Unit] = field(default_factory=list)
    asks_person: bool = False          # who a specific person is / how to reach them: never in a law
    asks_quantity: bool = False        # how much / how many: only a provision with a figure answers


_EN_KEEP_S = frozenset("does is was has this his its us yes bus gas plus news series always perhaps less "
                       "process address access business unless across whereas".split())


def _en_norm(word: str) -> str:
    word = word.lower().replace("’", "'")
    word = re.sub(r"'s?$", "", word)
    if word in _EN_KEEP_S:
        return word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and re.search(r"(sh|ch|x|ss|z)es$", word):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@functools.lru_cache(maxsize=1)
def glossary() -> tuple[dict[tuple[str, ...], tuple[str, ...]], dict[str, str]]:
    """(English phrase as normalised words → Chinese terms, Chinese term → display English)."""
    entries = yaml.safe_load((DATA_DIR / "glossary_en_zh.yml").read_text(encoding="utf-8")) or []
    en_to_zh: dict[tuple[str, ...], tuple[str, ...]] = {}
    zh_to_en: dict[str, str] = {}
    for e in entries:
        zh = tuple(str(z) for z in e["zh"])
        for phrase in e["en"]:
            key = tuple(_en_norm(w) for w in _EN_WORD.findall(str(phrase).lower()))
            if key:
                en_to_zh[key] = tuple(dict.fromkeys(en_to_zh.get(key, ()) + zh))
        label = e.get("label", str(e["en"][0]))
        if label:          # label: "" marks query-only entries (verbs, "who serves as") that name no topic
            for term in zh:
                zh_to_en.setdefault(term, label)
    return en_to_zh, zh_to_en


@functools.lru_cache(maxsize=1)
def synonyms() -> dict[str, tuple[str, ...]]:
    groups = yaml.safe_load((DATA_DIR / "synonyms_zh.yml").read_text(encoding="utf-8")) or []
    table: dict[str, tuple[str, ...]] = {}
    for group in groups:
        group = [str(w) for w in group]
        for word in group:
            table[word] = tuple(dict.fromkeys(table.get(word, ()) + tuple(group)))
    return table


@functools.lru_cache(maxsize=1)
def other_places() -> tuple[tuple[str, ...], tuple[str, ...]]:
    raw = yaml.safe_load((DATA_DIR / "places.yml").read_text(encoding="utf-8")) or {}
    return tuple(raw.get("zh") or ()), tuple(raw.get("en") or ())


def _mentions(text_lower: str, name: str) -> bool:
    if re.search(r"[a-z]", name.lower()):
        return re.search(rf"(?<![a-z]){re.escape(name.lower())}(?![a-z])", text_lower) is not None
    return name in text_lower


def find_places(text: str, docs: dict[str, Document]) -> tuple[tuple[str, ...], str | None, str]:
    """(corpus cities named, other place named, text with all place names removed)."""
    norm = normalise(text)
    lower = norm.lower()
    cities = []
    names = sorted(((alias, d.city) for d in docs.values() for alias in (*d.aliases, d.city, d.city_en)),
                   key=lambda x: -len(x[0]))
    for alias, city in names:
        if alias and _mentions(lower, normalise(alias)):
            if city not in cities:
                cities.append(city)
            lower = re.sub(re.escape(normalise(alias).lower()), " ", lower, flags=re.I)
    zh_places, en_places = other_places()
    other = None
    for place in sorted((*zh_places, *en_places), key=len, reverse=True):
        if _mentions(lower, place):
            other = other or place
            lower = lower.replace(place.lower(), " ")
    return tuple(cities), (None if cities else other), lower


# "the community governance regulation" names the document, not what is asked about it.
_SELF_REFERENCE_ZH = re.compile(r"(城乡)?社区(治理|规范化建设)?(促进)?(条例|暂行办法|办法|实施方案|方案)(（?草案送审稿）?|草案|送审稿)*"
                                r"|草案送审稿|草案|送审稿")
_SELF_REFERENCE_EN = re.compile(r"\b(urban and rural )?community (governance|building)( promotion)?"
                                r"(?= (regulation|regulations|rules|law|plan|measures|ordinance|draft)\b)", re.I)


def _merge_lone_characters(text: str) -> list[str]:
    """Content words, with runs of lone characters put back together (年假 → 年, 假 → 年假).

    jieba cuts a word it does not know into characters; as characters they look like common,
    light words, while together they are the resident's real topic, often one the corpus lacks."""
    out: list[str] = []
    run: list[str] = []
    for w in segmenter().lcut(text, HMM=False):
        w = w.strip().lower()
        if len(w) == 1 and re.fullmatch(r"[\u4e00-\u9fff]", w) and w not in STOPWORDS:
            run.append(w)
            continue
        if run:
            out.append("".join(run))
            run = []
        if w and w not in STOPWORDS and re.fullmatch(r"[\u4e00-\u9fff]+|[a-z]+|\d+", w):
            out.append(w)
    if run:
        out.append("".join(run))
    return out


def _chinese_units(text: str) -> list[Unit]:
    text = _SELF_REFERENCE_ZH.sub(" ", text)
    table = synonyms()
    units: list[Unit] = []
    seen: set[tuple[str, ...]] = set()
    for w in _merge_lone_characters(text):
        if w not in table and re.fullmatch(r"[几哪][\u4e00-\u9fff]|多少[\u4e00-\u9fff]*|哪一?[条款章项节]|第几[条款章项]", w):
            continue      # 几类, 哪天, 多少钱: the question word, not the topic
        m = re.fullmatch(r"(?:哪些|哪个|什么|哪种|哪类)([\u4e00-\u9fff]{2,})", w)
        if m:
            w = m.group(1)  # 哪些项目 → 项目
        alts = table.get(w, (w,))
        if alts not in seen:
            seen.add(alts)
            units.append(Unit(said=w, alternatives=alts))
    # longer synonym phrases jieba may cut apart (为什么制定, 新建住宅小区)
    for phrase, alts in table.items():
        if len(phrase) >= 3 and phrase in text and alts not in seen:
            seen.add(alts)
            units.append(Unit(said=phrase, alternatives=alts))
    return units


def _english_units(text: str) -> list[Unit]:
    text = _SELF_REFERENCE_EN.sub(" ", text)
    en_to_zh, _ = glossary()
    longest = max(len(k) for k in en_to_zh)
    tokens = [_en_norm(w) for w in _EN_WORD.findall(text.lower())]
    units: list[Unit] = []
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            key = tuple(tokens[i:i + n])
            if key in en_to_zh:
                units.append(Unit(said=" ".join(key), alternatives=en_to_zh[key], english=True))
                i += n
                break
        else:
            word = tokens[i]
            if word not in EN_STOPWORDS and _en_norm(word) not in EN_STOPWORDS and not word.isdigit():
                units.append(Unit(said=word, alternatives=(), english=True, generic=word in EN_GENERIC))
            i += 1
    return units


# "社区书记是谁？" asks for a person, "网格长由谁担任？" for a rule; only the second is in a regulation.
_PERSON_ZH = re.compile(r"是谁(?=[？?。！!吗呢啊呀]|$)|叫什么|叫啥|姓什么|电话是多少|电话多少|手机号|联系方式|怎么联系")
_PERSON_EN = re.compile(r"\bwho(?: is|'s| are) (?:my|our)\b|\bwhat(?: is|'s) (?:the|his|her|their|my) "
                        r"(?:name|phone|number)\b|\bphone number\b|\bhow (?:can|do) i (?:contact|reach|call)\b", re.I)


# "低保标准一个月多少钱？" is answered by a figure; a provision that only mentions 低保 is not an answer.
_QUANTITY_ZH = re.compile(r"多少|几[个名人户次年位层楼岁元万平天日周月块千百]|多大|多高|多宽|百分之|面积多")
_QUANTITY_EN = re.compile(r"\bhow (much|many|big|large|wide|high)\b|\bwhat (size|percentage|proportion|amount)\b|"
                          r"\b(minimum|maximum|at least|at most)\b", re.I)


def analyse(question: str, lang: str, docs: dict[str, Document]) -> Query:
    # A letter's greeting, introduction and thanks would count against every provision's coverage;
    # the places it names anywhere still decide whose rules answer.
    cities, other, rest = find_places(question, docs)
    whole = normalise(question)
    question = asking_part(whole)
    if question != whole:  # a short question is its own asking part: its places are already out
        _, _, rest = find_places(question, docs)
    units: list[Unit] = []
    if lang == "en" or re.search(r"[a-zA-Z]{3,}", rest):
        latin = _CJK_RUN.sub(" ", rest)
        units += _english_units(latin)
        for run in _CJK_RUN.findall(rest):   # Chinese words inside an English question
            units += _chinese_units(run)
    else:
        units += _chinese_units(rest)
    # one concept once, even if said twice or in two languages
    unique: dict[tuple[str, ...], Unit] = {}
    for u in units:
        unique.setdefault(u.alternatives or (u.said,), u)
    asks_person = bool(_PERSON_ZH.search(normalise(question)) or _PERSON_EN.search(question))
    asks_quantity = bool(_QUANTITY_ZH.search(normalise(question)) or _QUANTITY_EN.search(question))
    return Query(text=question, lang=lang, cities=cities, other_place=other, units=list(unique.values()),
                 asks_person=asks_person, asks_quantity=asks_quantity)
