from bot.texts import category_name, keys, render


def test_both_languages_say_the_same_things():
    assert set(keys("zh")) == set(keys("en"))


def test_traditional_is_converted_from_simplified():
    assert render("goodbye", "zh-Hant") == "好的，再見！有需要隨時找我。"


def test_placeholders_are_filled():
    text = render("report.ack_complaint", "en", category_name=category_name("noise", "en"))
    assert "noise" in text and "{" not in text


def test_every_taxonomy_category_has_a_name():
    taxonomy = ["noise", "property", "sanitation", "fire_safety", "parking_traffic", "building_construction",
                "public_safety", "neighbor_dispute", "municipal", "social_assistance", "elderly_care", "health",
                "employment", "legal_aid", "environment", "education", "market_consumer", "community_affairs", "other"]
    for key in taxonomy:
        assert category_name(key, "zh-Hans") and category_name(key, "en")
