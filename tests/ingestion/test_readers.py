"""File readers: formats, encodings and every rejection code."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.readers import ReadResult, Rejected, decode_text, read_bytes, read_file

DATA = Path(__file__).resolve().parents[1] / "data" / "ingestion"
NOTICE_START = "青海省人民政府办公厅关于印发测试办法的通知"


def ok(path: Path | str, **kwargs: object) -> ReadResult:
    result = read_file(DATA / path if isinstance(path, str) else path, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, ReadResult), result
    return result


def rejected(result: ReadResult | Rejected) -> Rejected:
    assert isinstance(result, Rejected), result
    assert result.message and not result.message.isascii(), "the reason must be Chinese"
    return result


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("notice_utf8.txt", "utf-8"),
        ("notice_gb18030.txt", "gb18030"),
        ("notice_utf16_bom.txt", "utf-16-le"),
        ("notice_utf16le_nobom.txt", "utf-16-le"),
        ("notice.md", "utf-8"),
    ],
)
def test_text_encodings(name: str, encoding: str) -> None:
    result = ok(name)
    assert result.kind == "text"
    assert result.encoding == encoding
    assert NOTICE_START in result.text
    assert "青政办〔2022〕99号" in result.text
    assert "\ufeff" not in result.text


def test_gb18030_is_not_mojibake() -> None:
    text = ok("notice_gb18030.txt").text
    assert text.splitlines()[0] == NOTICE_START


def test_utf16_be_without_bom(tmp_path: Path) -> None:
    p = tmp_path / "be.txt"
    p.write_bytes("第一条 12345 hotline 热线。\n".encode("utf-16-be"))
    assert ok(p).text.startswith("第一条 12345 hotline")


def test_utf8_bom(tmp_path: Path) -> None:
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeff第一条".encode())
    result = ok(p)
    assert result.text == "第一条"
    assert result.encoding == "utf-8-sig"


def test_garbage_txt_is_not_text() -> None:
    assert rejected(read_file(DATA / "garbage.txt")).code == "not_text"


def test_random_bytes_are_not_text() -> None:
    import random

    rnd = random.Random(7)
    data = bytes(rnd.randrange(256) for _ in range(4096))
    assert rejected(read_bytes(data, "x.txt")).code == "not_text"


def test_empty_file() -> None:
    assert rejected(read_file(DATA / "empty.txt")).code == "empty_file"


def test_whitespace_only_is_empty(tmp_path: Path) -> None:
    p = tmp_path / "blank.txt"
    p.write_text(" \n\t\n", encoding="utf-8")
    assert rejected(read_file(p)).code == "empty_file"


def test_fifty_megabytes_rejected_without_reading(tmp_path: Path) -> None:
    p = tmp_path / "huge.txt"
    with p.open("wb") as fh:  # sparse: no 50 MB actually written
        fh.truncate(50 * 1024 * 1024)
    result = rejected(read_file(p))
    assert result.code == "too_large"
    assert "20 MB" in result.message


def test_size_limit_is_a_parameter(tmp_path: Path) -> None:
    p = tmp_path / "small.txt"
    p.write_text("第一条" * 100, encoding="utf-8")
    assert rejected(read_file(p, max_bytes=100)).code == "too_large"
    assert isinstance(read_file(p, max_bytes=10_000), ReadResult)
    assert rejected(read_bytes(b"x" * 101, "a.txt", max_bytes=100)).code == "too_large"


def test_unsupported_and_legacy_formats(tmp_path: Path) -> None:
    assert rejected(read_file(DATA / "unknown.xyz")).code == "unsupported_format"
    legacy = tmp_path / "old.doc"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0")
    assert rejected(read_file(legacy)).code == "legacy_office"
    assert rejected(read_bytes(b"abc", "noext")).code == "unsupported_format"


def test_missing_file(tmp_path: Path) -> None:
    assert rejected(read_file(tmp_path / "nope.txt")).code == "not_found"


def test_docx_paragraphs_and_tables_in_order() -> None:
    result = ok("notice.docx")
    assert result.kind == "text"
    lines = [line for line in result.text.splitlines() if line]
    assert lines[0] == NOTICE_START
    assert lines.index("第一条 为规范管理，制定本办法。") < lines.index("序号\t工作内容\t责任单位")
    assert lines.index("1\t推进电子证照共享应用\t省公安厅牵头") < lines.index(
        "第二条 本办法自印发之日起施行。"
    )


@pytest.mark.parametrize("name", ["truncated.docx", "not_word.docx"])
def test_corrupt_docx(name: str) -> None:
    assert rejected(read_file(DATA / name)).code == "corrupt_file"


def test_text_renamed_docx_is_corrupt() -> None:
    assert rejected(read_bytes("第一条".encode(), "a.docx")).code == "corrupt_file"


def test_pdf_text_layer() -> None:
    result = ok("text.pdf")
    assert result.kind == "text"
    assert result.pages == 1
    assert "第十四条" in result.text and "2个工作日" in result.text


def test_scanned_pdf() -> None:
    result = rejected(read_file(DATA / "scanned.pdf"))
    assert result.code == "scanned_pdf"
    assert result.message == "扫描件无文字层，请提供文字版或先OCR"


def test_broken_pdf() -> None:
    assert rejected(read_file(DATA / "broken.pdf")).code == "corrupt_file"
    assert rejected(read_bytes(b"not a pdf at all", "a.pdf")).code == "corrupt_file"


def test_xlsx_header_detection_first_sheet() -> None:
    result = ok("tasks.xlsx")
    assert result.kind == "table"
    assert result.columns == ["序号", "工作内容", "责任单位", "完成时限"]
    assert result.rows[0] == {
        "序号": "1",
        "工作内容": "推进电子证照共享应用",
        "责任单位": "省公安厅、省政府办公厅牵头",
        "完成时限": "2022年12月底",
    }
    assert len(result.rows) == 2
    assert result.sheets == ["任务清单"]


def test_xlsx_all_sheets() -> None:
    result = ok("tasks.xlsx", all_sheets=True)
    assert result.sheets == ["任务清单", "常见问题"]
    faq = [r for r in result.rows if r["_sheet"] == "常见问题"]
    assert faq == [
        {
            "问题": "12345热线几个工作日答复？",
            "答案": "咨询类一般在2个工作日内答复。",
            "_sheet": "常见问题",
        }
    ]


def test_truncated_xlsx() -> None:
    assert rejected(read_file(DATA / "truncated.xlsx")).code == "corrupt_file"


def test_xlsx_without_rows(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    buf = io.BytesIO()
    wb.save(buf)
    assert rejected(read_bytes(buf.getvalue(), "e.xlsx")).code == "no_rows"


def test_csv_gb18030() -> None:
    result = ok("tasks_gb18030.csv")
    assert result.kind == "table"
    assert result.encoding == "gb18030"
    assert [r["责任单位"] for r in result.rows] == ["省公安厅、省政府办公厅牵头", "省医保局牵头"]
    assert result.text.splitlines()[0] == "序号\t工作内容\t责任单位\t完成时限"


def test_jsonl_good_lines_kept_bad_lines_reported() -> None:
    result = ok("docs.jsonl")
    assert result.kind == "jsonl"
    assert [d["doc_id"] for d in result.documents] == ["d1", "d3"]
    assert result.documents[0]["doc_no"] == "青政办[2022]57号"
    assert result.documents[0]["issued"] == "2022-08-02"
    assert result.documents[1]["department"] is None
    assert [(i.line, i.code) for i in result.issues] == [
        (2, "invalid_json"),
        (3, "missing_field"),
        (4, "not_object"),
        (6, "duplicate_id"),
    ]
    assert all(i.message.startswith(f"第{i.line}行") for i in result.issues)


def test_jsonl_all_bad() -> None:
    assert rejected(read_bytes(b"{bad\n[1]\n", "x.jsonl")).code == "invalid_jsonl"


def test_jsonl_real_eval_file_reads() -> None:
    path = Path("/work/shared/eval/ncp_policy/docs.jsonl")
    if not path.exists():
        pytest.skip("shared eval data not mounted")
    result = ok(path, max_bytes=50 * 1024 * 1024)
    assert len(result.documents) == 599
    assert not result.issues


def test_zip_bomb_like_xlsx_does_not_crash() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<garbage")
    assert rejected(read_bytes(buf.getvalue(), "x.xlsx")).code == "corrupt_file"


def test_decode_text_prefers_utf8() -> None:
    assert decode_text("编码".encode()) == ("编码", "utf-8")


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=3000),
    ext=st.sampled_from([".txt", ".md", ".docx", ".pdf", ".xlsx", ".csv", ".jsonl", ".bin"]),
)
def test_never_crashes_on_arbitrary_bytes(data: bytes, ext: str) -> None:
    result = read_bytes(data, "upload" + ext)
    assert isinstance(result, ReadResult | Rejected)
    if isinstance(result, Rejected):
        assert result.code and result.message


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=500))
def test_any_unicode_text_roundtrips_as_utf8(text: str) -> None:
    result = read_bytes(text.encode("utf-8", "surrogatepass"), "a.txt")
    if isinstance(result, ReadResult):
        assert result.kind == "text"
    else:
        assert result.code in {"empty_file", "not_text"}


def test_jsonl_lines_are_json_objects(tmp_path: Path) -> None:
    p = tmp_path / "one.jsonl"
    p.write_text(json.dumps({"doc_id": "a", "title": "t", "text": "x"}), encoding="utf-8")
    assert ok(p).documents[0]["line"] == 1
