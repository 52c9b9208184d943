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


# Letters to the community mention dangers they fear or that happened long ago; those are not
# emergencies now. Written for this test.
@pytest.mark.parametrize("text", [
    "楼道里堆满了纸箱和旧家具，一旦发生火灾后果不堪设想，请物业尽快清理",
    "电动车在楼道里充电，极易引发火灾，希望社区管一管",
    "小区配电箱的门一直开着，小孩子去摸有触电的风险",
    "当时我父亲在这条路的坑里摔成骨折，至今路面还没修",
    "那次我在店门口被人殴打，派出所至今没有给出处理结果",
    "我儿子在学校被打后住院两周，学校一直推卸责任",
    "如果半夜有人突发心梗，后果不堪设想",
    "家里的救命钱都被这家公司骗走了",
    "工地的渣土车排放黑烟，路过的人都呛得不行",
    "近年来各地发生过好几起楼道里电动车起火的事故，我们楼也天天有人充电",
    "In case of a fire, nobody could get out through that locked exit.",
    "我爸中风了，行动不便，社区有没有上门护理",              # a lasting condition, asking for care
    "母亲脑梗后遗症 生活不能自理 想申请护工补贴",
])
def test_feared_or_long_past_dangers_are_not_emergencies_now(text):
    assert detect_urgency(text) == []


@pytest.mark.parametrize("text,kind", [
    ("之前就说过有隐患，现在楼道真的着火了", "fire"),      # the same clause says it is happening now
    ("万一出事怎么办，楼下有人拿着刀在吵", "police"),       # the fear is in another clause
    ("我爸可能心梗了 一直喊胸口疼", "medical"),              # 可能 is not a hypothetical marker
    ("他被打后一直流血止不住", "medical"),                   # over, but still bleeding
    ("there is a fire on the third floor", "fire"),
    ("去年买的电动车在楼道里起火了", "fire"),                # a date tells when it was bought
    ("2019年装的燃气管道漏气了 一股味", "fire"),
    ("楼下有个老人晕倒后没人管", "medical"),
    ("电动车充电导致起火了", "fire"),
    ("the heater I bought last year caught fire", "fire"),
    ("我天天被老公家暴", "police"),                           # recurring violence is still violence
    ("他经常打孩子 我很害怕", "police"),
    ("我爸突然中风了 行动不便 怎么办", "medical"),            # just happened: still an emergency
    ("我妈刚刚中风了 现在卧床说不出话", "medical"),
])
def test_dangers_told_as_now_stay_urgent(text, kind):
    assert kind in detect_urgency(text)


def test_a_marker_reaches_only_its_own_clause():
    # Recall first: the consequence clause of a hypothetical still counts.
    assert detect_urgency("如果半夜有人突发心梗，救护车根本开不进小区") == ["medical"]


def test_numbers():
    assert [emergency_number(k) for k in ("fire", "medical", "police")] == ["119", "120", "110"]


def test_several_kinds_in_order_of_the_lexicon():
    assert detect_urgency("着火了 有人被烧伤昏迷了") == ["fire", "medical"]


def test_long_messages_are_scanned_whole():
    assert detect_urgency("物业不作为" * 3000 + "现在楼下着火了") == ["fire"]
    # 5,000 feared fires in one clause: each is read in its own neighbourhood (linear time, 0.2 s here)
    assert detect_urgency("一旦着火" * 5000) == []
    assert detect_urgency("一旦着火" * 5000 + "，现在真的着火了") == ["fire"]


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
