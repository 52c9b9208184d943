"""The urgency lexicon, on wording written for this test (the held-out set is measured in bench)."""
import pytest

from bot.urgency import detect_urgency, emergency_number


@pytest.mark.parametrize("text,kind", [
    ("厨房着火了快来人", "fire"),
    ("五楼窗户一直往外冒黑烟", "fire"),
    ("進門就聞到很重的煤氣味", "fire"),
    ("there's smoke pouring out of the flat next door", "fire"),
    ("I can smell gas in the stairwell", "fire"),
    ("充电的电动车突然冒烟了", "fire"),
    ("我妈突然晕倒了叫不醒", "medical"),
    ("老人在楼道摔倒了爬不起来", "medical"),
    ("my neighbour is lying on the floor and not breathing", "medical"),
    ("小孩被车撞了流了好多血", "medical"),
    ("樓下有人打架還拿著刀", "police"),
    ("someone is trying to break in through my window right now", "police"),
    ("隔壁男的又在家暴 女的一直喊救命", "police"),
    ("有人站在楼顶说要跳楼", "police"),
])
def test_urgent_messages_are_caught(text, kind):
    assert kind in detect_urgency(text)


@pytest.mark.parametrize("text", [
    "消防通道又被电动车堵了",
    "楼道里的灭火器过期了没人换",
    "请问燃气开户要带什么",
    "the fire lane is blocked by cars again",
    "楼下饭店油烟太大了",
    "上个月我们小区被盗过两次，能不能加装监控",
    "下周的消防演练几点开始",
    "楼上装修太吵了",
    "",
])
def test_harmless_mentions_are_not_urgent(text):
    assert detect_urgency(text) == []


def test_numbers():
    assert [emergency_number(k) for k in ("fire", "medical", "police")] == ["119", "120", "110"]


def test_several_kinds_in_order_of_the_lexicon():
    assert detect_urgency("着火了 有人被烧伤昏迷了") == ["fire", "medical"]


def test_long_messages_are_scanned_whole():
    assert detect_urgency("物业不作为" * 3000 + "现在楼下着火了") == ["fire"]


def test_the_model_layer_catches_what_the_lexicon_lacks():
    from bot.urgency import urgency_kinds_for

    class Model:  # stands for a trained bot.category_model.CategoryModel
        def __init__(self, label, confidence):
            self.answer = (label, confidence)

        def predict(self, text):
            return self.answer

    wording = "我爷爷嘴唇发紫 呼吸越来越弱"
    assert urgency_kinds_for(wording, Model("medical", 0.9)) == ["medical"]
    assert urgency_kinds_for(wording, Model("medical", 0.2)) == []  # not confident enough
    assert urgency_kinds_for(wording, Model("none", 0.99)) == []
    # The lexicon needs no model and overrides a model that says "none".
    assert urgency_kinds_for("厨房着火了", Model("none", 0.99)) == ["fire"]
