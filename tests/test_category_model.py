"""bot/category_model.py scores one text without sklearn's transform; it must give sklearn's numbers."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from bot.category_model import CategoryModel, _prepare

TRAINING = {
    "complaint": ["楼上半夜装修太吵了", "垃圾三天没人清 臭死了", "物业态度太差了 投诉", "广场舞音乐太响 影响休息",
                  "the neighbours play loud music every night", "樓下燒烤油煙太大"],
    "service_request": ["路灯坏了 麻烦派人修一下", "水管漏水 请师傅来看看", "电梯坏了 请尽快维修",
                        "please fix the broken stairwell light", "門禁卡壞了 想補辦", "下水道堵了 需要疏通"],
    "consultation": ["申请低保要什么条件", "居住证怎么办理", "老年人补贴怎么领", "how do I apply for the elderly allowance",
                     "社區調解找誰", "养狗需要登记吗"],
}
TEXTS = ["楼道灯坏了好几天 13812345678", "請問低保怎麼申請", "noise at 3am again!!", "", "   ", "x" * 20000,
         "GD20261124-0007 处理得怎么样了", "未见过的字词组合 龘靐齉", "申请" * 400]


def _model(labels):
    texts = [t for label in labels for t in TRAINING[label]]
    return CategoryModel.train(texts, [label for label in labels for _ in TRAINING[label]])


def test_the_fast_path_gives_sklearns_probabilities():
    model = _model(["complaint", "service_request", "consultation"])
    assert model._scorer is not None  # three classes, multinomial: the fast path is the one used
    fast = np.array([model._scorer(_prepare(text)) for text in TEXTS])
    sklearn = model.classifier.predict_proba(model._features(TEXTS))
    np.testing.assert_allclose(fast, sklearn, rtol=0, atol=1e-12)
    ranked = model.rank_many(TEXTS, top=3)
    assert [r[0][0] for r in ranked] == [str(model.classifier.classes_[i]) for i in sklearn.argmax(axis=1)]


def test_two_classes_use_sklearns_own_path():
    model = _model(["complaint", "consultation"])
    assert model._scorer is None
    label, confidence = model.predict("申请低保要什么条件")
    assert label == "consultation" and 0.5 < confidence <= 1.0


def test_a_saved_model_loads_with_its_fast_path(tmp_path):
    model = _model(["complaint", "service_request", "consultation"])
    model.save(tmp_path / "m.joblib")
    assert "_scorer" not in pickle.loads(pickle.dumps(model)).__getstate__()
    loaded = CategoryModel.load(tmp_path / "m.joblib")
    assert loaded._scorer is not None
    assert loaded.rank_many(TEXTS) == model.rank_many(TEXTS)
    assert loaded.words.stop_words_ is None and loaded.classifier.coef_.flags["F_CONTIGUOUS"]


@pytest.mark.parametrize("text", ["", "x" * 20000])
def test_edge_inputs_give_a_distribution(text):
    probabilities = _model(["complaint", "service_request", "consultation"])._scorer(_prepare(text))
    assert probabilities.shape == (3,) and abs(probabilities.sum() - 1) < 1e-12
