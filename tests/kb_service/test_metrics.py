"""Indicator arithmetic, report periods and due dates, gap clustering, rendering."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from index.encoders import FakeEncoder
from kb_service import metrics, reports
from kb_service.errors import Invalid
from kb_service.models import IntakeLog
from kb_service.workdays import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
CAL_2027 = WorkCalendar.from_file("tests/data/calendar-2027.yaml")


def test_rate_is_null_without_a_denominator():
    assert metrics.rate(0, 0) is None
    assert metrics.rate(2, 3) == 0.6667
    assert metrics.rate(0, 4) == 0.0


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "due"),
    [
        ("2026-10", "month", "2026-10-01", "2026-10-31", "2026-11-06"),
        ("2026-09", "month", "2026-09-01", "2026-09-30", "2026-10-13"),  # 10-08, 09, 10, 12, 13
        ("2026-Q4", "quarter", "2026-10-01", "2026-12-31", "2027-01-08"),
        ("2026-q1", "quarter", "2026-01-01", "2026-03-31", "2026-04-08"),
        ("2026", "year", "2026-01-01", "2026-12-31", "2027-01-15"),
    ],
)
def test_periods_and_their_report_due_dates(text, kind, start, end, due):
    p = reports.parse_period(text, calendar=CAL_2027)
    assert (p.kind, p.start.isoformat(), p.end.isoformat(), p.due.isoformat()) == (
        kind,
        start,
        end,
        due,
    )


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26", "October"])
def test_bad_periods_are_refused_in_chinese(text):
    with pytest.raises(Invalid) as exc:
        reports.parse_period(text)
    assert exc.value.code == "period_invalid" and "报告期" in exc.value.message


def test_metrics_for_an_empty_range_are_all_null(seeded):
    with Session(seeded) as s:
        m = metrics.compute(s, start=date(2026, 10, 1), end=date(2026, 10, 31))
    assert m["departments"] == []
    o = m["overall"]
    assert o["update_rate"] is None and o["direct_answer_rate"] is None
    assert o["policy_push_rate"] is None and o["adoption_rate"] is None
    with Session(seeded) as s, pytest.raises(Invalid):
        metrics.compute(s, start=date(2026, 10, 31), end=date(2026, 10, 1))


def test_gaps_cluster_similar_unanswerable_items_and_mask_examples(seeded):
    texts = [
        "请问医保异地就医备案怎么办理，电话13912345678",
        "请问医保异地就医备案怎么办理呢",
        "请问12345热线夜间有人值班吗",
    ]
    with Session(seeded) as s:
        for n, text in enumerate(texts):
            s.add(
                IntakeLog(
                    at=datetime(2026, 10, 12 + n, 9, tzinfo=SH),
                    text=text,
                    action="ticket",
                    decision={"answerable": False, "ticket": {"department": "medical-insurance"}},
                )
            )
        s.add(
            IntakeLog(
                at=datetime(2026, 10, 20, 9, tzinfo=SH),
                text="答得上来的问题",
                action="answer",
                decision={"answerable": True},
            )
        )
        s.commit()
        enc = FakeEncoder(256)
        gaps = metrics.gaps(
            s,
            start=date(2026, 10, 1),
            end=date(2026, 10, 31),
            encode=enc.encode_queries,
            threshold=0.5,  # the fake encoder's cosines are lower than e5's
        )
    assert [g["size"] for g in gaps] == [2, 1]
    assert "13912345678" not in gaps[0]["examples"][0]
    assert gaps[0]["departments"][0]["code"] == "medical-insurance"
    assert gaps[0]["departments"][0]["count"] == 2


def _report() -> dict:
    row = {
        "code": "hotline",
        "name": "青海省12345政务服务便民热线",
        "update_rate": 0.5,
        "not_helpful_by_reason": {"outdated": 1, "wrong": 0, "incomplete": 0, "irrelevant": 0},
    }
    overall = {**row, "code": None, "name": None, "direct_answer_rate": None}
    return {
        "title": "测试报告",
        "period": {"label": "2026年10月", "start": "2026-10-01", "end": "2026-10-31"},
        "due_date": "2026-11-06",
        "generated_at": "2026-11-01T10:00:00+08:00",
        "operations": {
            "intake_items": 1,
            "by_action": [{"label": "即时答复", "count": 1}],
            "tickets_created": 0,
            "tickets_closed": 0,
            "queries": 1,
            "knowledge_questions": 0,
        },
        "common_questions": [],
        "gaps": [],
        "indicators": {
            "overall": {
                **overall,
                "policy_push_rate": None,
                "entries_overdue_review_share": None,
                "adoption_rate": None,
            },
            "departments": [row, {"code": "tax", "name": "<税务局>", "update_rate": None}],
        },
    }


def test_html_is_self_contained_with_an_svg_chart_and_escaped_names():
    html = reports.to_html(_report())
    assert "<svg" in html and "50.0%" in html and "无应更新任务" in html
    assert "<script" not in html and "https://" not in html
    assert "&lt;税务局&gt;" in html and "<税务局>" not in html


def test_xlsx_opens_with_chinese_headers():
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(reports.to_xlsx(_report())))
    assert wb.sheetnames == ["概况", "各单位指标", "常见问题", "知识缺口"]
    headers = [c.value for c in wb["各单位指标"][1]]
    assert headers[:3] == ["单位编码", "单位名称", "知识库更新率"]
    assert wb["各单位指标"]["C2"].number_format == "0.0%"


def test_render_refuses_unknown_formats():
    with pytest.raises(Invalid):
        reports.render(_report(), "pdf")
