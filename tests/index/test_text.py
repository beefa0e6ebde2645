from index.text import compact, normalize, question_key


def test_spaces_between_cjk_characters_from_ocr_are_removed() -> None:
    assert normalize("青 海 省 人 民 政 府") == "青海省人民政府"


def test_spaces_around_numbers_next_to_cjk_are_kept_single() -> None:
    assert normalize("青海  12345 \t热线") == "青海 12345 热线"


def test_full_width_letters_digits_and_spaces_become_half_width_lowercase() -> None:
    assert normalize("ＡＰＰ\u3000下载１２３４５") == "app 下载12345"


def test_html_tags_entities_and_controls_are_dropped() -> None:
    assert normalize("<b>第一条</b> 为规范&amp;提升\x00\u200b服务") == "第一条为规范&提升服务"


def test_comparison_operators_and_book_title_marks_are_not_tags() -> None:
    assert normalize("x<5 《办法》") == "x<5 《办法》"


def test_tabs_and_newlines_become_spaces() -> None:
    assert normalize("a\tb\nc\r\nd") == "a b c d"


def test_traditional_ocr_strays_are_simplified() -> None:
    assert normalize("辦理門診報銷") == "办理门诊报销"


def test_full_width_punctuation_sticks_to_cjk() -> None:
    assert normalize("第一条 ， 为 规范") == "第一条,为规范"


def test_compact_removes_all_whitespace() -> None:
    assert compact("青海 12345 热线 ") == "青海12345热线"


def test_question_key_ignores_punctuation_and_politeness() -> None:
    assert question_key("请问，社保卡 怎么补办？") == question_key("社保卡怎么补办")


def test_question_key_keeps_different_questions_apart() -> None:
    assert question_key("社保卡怎么补办") != question_key("社保卡怎么激活")


def test_normalize_is_idempotent_on_corpus_noise() -> None:
    sample = "关于印发青海 12345 政务服务便民热线管理 暂行办法的通知\n\t<b>第二条</b>"
    once = normalize(sample)
    assert normalize(once) == once
