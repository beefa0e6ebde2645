import threading
from pathlib import Path

import pytest

from index.tokenize import Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


def test_userdict_term_stays_one_token(tokenizer: Tokenizer) -> None:
    assert "医保电子凭证" in tokenizer.tokens("医保电子凭证怎么申领")


def test_without_userdict_the_term_is_split() -> None:
    assert "医保电子凭证" not in Tokenizer(include_default=False).tokens("医保电子凭证怎么申领")


def test_department_alias_is_a_token(tokenizer: Tokenizer) -> None:
    assert "省人社厅" in tokenizer.tokens("省人社厅的电话")


def test_hotline_number_matches_inside_longer_terms(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokens("青海省12345热线")
    assert "12345热线" in tokens
    assert "12345" in tokens


def test_stopwords_punctuation_and_spaces_are_dropped(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokens("请问，社保卡 怎么 补办？")
    assert "请问" not in tokens and "怎么" not in tokens
    assert not any(t in {"，", ",", "?", "？", " "} for t in tokens)
    assert "社保卡" in tokens and "补办" in tokens


def test_tokens_are_normalised_and_lowercase(tokenizer: Tokenizer) -> None:
    assert tokenizer.tokens("ＡＰＰ 下载") == ["app", "下载"]


def test_numbers_are_kept(tokenizer: Tokenizer) -> None:
    assert "2022" in tokenizer.tokens("2022年的文件")


def test_extra_dictionary_extends_the_default(tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("# 管理员添加\n青海政务通 10\n", encoding="utf-8")
    assert "青海政务通" in Tokenizer(userdicts=[extra]).tokens("下载青海政务通")


def test_fingerprint_changes_with_dictionaries(tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("青海政务通\n", encoding="utf-8")
    assert Tokenizer().fingerprint != Tokenizer(userdicts=[extra]).fingerprint


def test_concurrent_first_use_gives_identical_tokens() -> None:
    tok = Tokenizer()
    results: list[list[str]] = []

    def work() -> None:
        results.append(tok.tokens("电子营业执照和社保卡"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(r == results[0] for r in results)
