"""文号 normalisation."""

from __future__ import annotations

import pytest

from ingestion.docno import find_doc_nos, is_doc_no_line, normalize_doc_no, own_doc_no


@pytest.mark.parametrize(
    "raw",
    [
        "青政办〔2022〕57号",
        "青政办[2022]57号",
        "青政办(2022)57号",
        "青政办（2022）57号",
        "青政办〔2022〕 57 号",
        "青政办〔２０２２〕５７号",
        "青 政 办 〔 2022 〕 57 号",
        "青政办【2022】57号",
        "青政办［2022］057号",
        "  **青政办〔2022〕57号**  ",
    ],
)
def test_variants_normalise_to_canonical(raw: str) -> None:
    assert normalize_doc_no(raw) == "青政办〔2022〕57号"


def test_no_doc_no() -> None:
    assert normalize_doc_no("关于印发青海12345政务服务便民热线管理暂行办法的通知") is None
    assert normalize_doc_no("") is None
    assert normalize_doc_no("2022年8月2日") is None


def test_other_issuers() -> None:
    assert normalize_doc_no("青政人〔2022〕13号") == "青政人〔2022〕13号"
    assert normalize_doc_no("国办发〔2020〕53号") == "国办发〔2020〕53号"
    assert normalize_doc_no("天津市商务局文件津商外资〔2020〕1号") == "津商外资〔2020〕1号"


def test_find_doc_nos_in_running_text() -> None:
    text = (
        "根据《国务院办公厅关于进一步优化地方政务服务便民热线的指导意见》（国办发〔2020〕53号）和"
        "《…通知》（青政办[2021]48号）要求，根据青政办〔2021〕48号精神"
    )
    assert find_doc_nos(text) == ["国办发〔2020〕53号", "青政办〔2021〕48号"]


def test_own_doc_no_skips_citations() -> None:
    text = "根据《紧急通知》（交运明电〔2020〕37号）要求。津商外资〔2020〕1号 关于……"
    assert own_doc_no(text) == "津商外资〔2020〕1号"


def test_doc_no_line() -> None:
    assert is_doc_no_line("青政办〔2022〕58号")
    assert is_doc_no_line("**青政办〔2022〕58号**")
    assert not is_doc_no_line("依据青政办〔2022〕58号文件执行。")
