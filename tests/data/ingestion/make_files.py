"""Regenerate the small ingestion test files: `.venv/bin/python tests/data/ingestion/make_files.py`.

Only python-docx and openpyxl are needed; the PDFs are written by hand (a few hundred bytes).
The 50 MB oversize case is generated inside the test in tmp_path, never committed.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

NOTICE = (
    "青海省人民政府办公厅关于印发测试办法的通知\n"
    "青政办〔2022〕99号\n"
    "各市、自治州人民政府，省政府各委、办、厅、局：\n"
    "《测试办法》已经省政府同意，现印发给你们，请认真贯彻落实。\n"
    "青海省人民政府办公厅\n"
    "2022年8月2日\n"
)


def make_text_files() -> None:
    (HERE / "notice_utf8.txt").write_text(NOTICE, encoding="utf-8")
    (HERE / "notice_gb18030.txt").write_bytes(NOTICE.encode("gb18030"))
    (HERE / "notice_utf16_bom.txt").write_bytes(NOTICE.encode("utf-16"))  # BOM + native order
    (HERE / "notice_utf16le_nobom.txt").write_bytes(NOTICE.encode("utf-16-le"))
    (HERE / "notice.md").write_text("# 测试通知\n\n" + NOTICE, encoding="utf-8")
    (HERE / "empty.txt").write_bytes(b"")
    # deterministic binary garbage (PNG-like header, NULs, control bytes) renamed to .txt
    seed = 12345
    garbage = bytearray(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    for _ in range(2000):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        garbage.append(seed >> 16 & 0xFF)
    (HERE / "garbage.txt").write_bytes(bytes(garbage))
    (HERE / "unknown.xyz").write_text("不支持的格式", encoding="utf-8")


def make_jsonl() -> None:
    lines = [
        json.dumps(
            {
                "doc_id": "d1",
                "title": "通知一",
                "text": "第一条 为规范管理，制定本办法。",
                "doc_no": "青政办[2022]57号",
                "department": "省政府办公厅",
                "issued": "2022-08-02",
            },
            ensure_ascii=False,
        ),
        "{这不是 JSON",
        json.dumps({"doc_id": "d2", "title": "缺正文"}, ensure_ascii=False),
        json.dumps(["not", "an", "object"]),
        json.dumps(
            {"doc_id": "d3", "title": "通知三", "text": "一、总体要求。"}, ensure_ascii=False
        ),
        json.dumps({"doc_id": "d1", "title": "重复", "text": "重复的编号"}, ensure_ascii=False),
        "",
    ]
    (HERE / "docs.jsonl").write_text("\n".join(lines), encoding="utf-8")


def make_csv() -> None:
    rows = [
        "任务清单,,,",
        "序号,工作内容,责任单位,完成时限",
        "1,推进电子证照共享应用,省公安厅、省政府办公厅牵头,2022年12月底",
        "2,完善医保电子凭证,省医保局牵头,持续推进",
    ]
    (HERE / "tasks_gb18030.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("gb18030"))


def make_docx() -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("青海省人民政府办公厅关于印发测试办法的通知")
    document.add_paragraph("青政办〔2022〕99号")
    document.add_paragraph("第一条 为规范管理，制定本办法。")
    table = document.add_table(rows=2, cols=3)
    for i, text in enumerate(("序号", "工作内容", "责任单位")):
        table.cell(0, i).text = text
    for i, text in enumerate(("1", "推进电子证照共享应用", "省公安厅牵头")):
        table.cell(1, i).text = text
    document.add_paragraph("第二条 本办法自印发之日起施行。")
    buffer = io.BytesIO()
    document.save(buffer)
    data = buffer.getvalue()
    (HERE / "notice.docx").write_bytes(data)
    (HERE / "truncated.docx").write_bytes(data[: len(data) // 2])
    # a valid zip that is not a Word document
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("hello.txt", "not a docx")
    (HERE / "not_word.docx").write_bytes(other.getvalue())


def make_xlsx() -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "任务清单"
    sheet.append(["青海省电子证照任务清单"])
    sheet.append([])
    sheet.append(["序号", "工 作 内 容", "责任单位", "完成时限"])
    sheet.append([1, "推进电子证照共享应用", "省公安厅、省政府办公厅牵头", "2022年12月底"])
    sheet.append([2, "完善医保电子凭证", "省医保局牵头", "持续推进"])
    faq = workbook.create_sheet("常见问题")
    faq.append(["问题", "答案"])
    faq.append(["12345热线几个工作日答复？", "咨询类一般在2个工作日内答复。"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    (HERE / "tasks.xlsx").write_bytes(buffer.getvalue())
    (HERE / "truncated.xlsx").write_bytes(buffer.getvalue()[:300])


def _pdf(objects: list[bytes]) -> bytes:
    """Assemble a PDF from numbered object bodies (1-based), computing the xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def _stream(content: bytes) -> bytes:
    return b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream"


def make_pdf() -> None:
    text = "第十四条 承办单位应当在2个工作日内作出答复。"
    hex_text = text.encode("utf-16-be").hex().upper().encode()
    content = b"BT /F1 12 Tf 50 750 Td <" + hex_text + b"> Tj ET"
    text_pdf = _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            _stream(content),
            b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UTF16-H "
            b"/DescendantFonts [6 0 R] >>",
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> >>",
        ]
    )
    (HERE / "text.pdf").write_bytes(text_pdf)
    # a "scan": the page only paints a grey rectangle, no text operators at all
    scan = _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            _stream(b"0.5 g 50 50 495 742 re f"),
        ]
    )
    (HERE / "scanned.pdf").write_bytes(scan)
    (HERE / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")


def main() -> None:
    """Write every test file next to this script."""
    make_text_files()
    make_jsonl()
    make_csv()
    make_docx()
    make_xlsx()
    make_pdf()


if __name__ == "__main__":
    main()
