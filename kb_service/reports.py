"""Monthly, quarterly and annual knowledge-base reports (第二十七条) as JSON, XLSX and HTML.

The HTML is self-contained: inline CSS and an inline SVG bar chart of 知识库更新率 per
department (no CDN, no JavaScript). The template is inline below, so no package data is needed.
"""

from __future__ import annotations

import io
import re
from calendar import monthrange
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlmodel import Session, col, select

from kb_service import metrics
from kb_service.db import utcnow
from kb_service.errors import Invalid
from kb_service.models import Department, Entry, IntakeLog, QueryLog, Ticket, TicketEvent
from kb_service.models.freshness import Feedback, FeedbackVerdict, Obligation, ObligationKind
from kb_service.timelimits import TICKET_TYPE_LABELS, TicketType
from kb_service.workdays import SHANGHAI, WorkCalendar, nth_workday_of_month

FORMATS = ("json", "xlsx", "html")
ACTION_LABELS = {
    "answer": "即时答复",
    "ticket": "形成工单",
    "divert": "紧急转接",
    "reject": "不予受理",
}
# Monthly and quarterly reports are due on this working day of the following month.
REPORT_DUE_WORKDAY = 5

# The per-department table: (key, Chinese header, is a rate).
COLUMNS: list[tuple[str, str, bool]] = [
    ("code", "单位编码", False),
    ("name", "单位名称", False),
    ("update_rate", "知识库更新率", True),
    ("due", "应更新任务数", False),
    ("fulfilled_on_time", "按时完成数", False),
    ("confirmations", "其中确认无需修改", False),
    ("fulfilled_late", "逾期完成数", False),
    ("overdue_obligations", "逾期未完成数", False),
    ("mean_workdays_to_refresh", "平均更新用时（工作日）", False),
    ("direct_answer_rate", "直接解答率", True),
    ("consultation_items", "咨询事项数", False),
    ("direct_answers", "直接解答数", False),
    ("policy_push_rate", "最新政策推送率", True),
    ("documents_issued", "新发布政策文件数", False),
    ("entries_overdue_review_share", "逾期未复核条目占比", True),
    ("live_entries", "在用条目数", False),
    ("adoption_rate", "建议采纳率", True),
    ("feedback", "反馈数", False),
    ("nh_outdated", "无帮助：过时", False),
    ("nh_wrong", "无帮助：错误", False),
    ("nh_incomplete", "无帮助：不完整", False),
    ("nh_irrelevant", "无帮助：不相关", False),
]


@dataclass(frozen=True)
class Period:
    """A reporting period: a month, a quarter or a year."""

    kind: str  # month | quarter | year
    key: str  # 2026-10 | 2026-Q4 | 2026
    label: str  # 2026年10月
    start: date
    end: date
    due: date


def parse_period(text: str, *, calendar: WorkCalendar | None = None) -> Period:
    """`2026-10`, `2026-Q4` or `2026` → the period with its report due date."""
    text = text.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise Invalid("period_invalid", f"报告期“{text}”的月份无效")
        start, end = date(year, month, 1), date(year, month, monthrange(year, month)[1])
        return Period(
            "month",
            f"{year}-{month:02d}",
            f"{year}年{month}月",
            start,
            end,
            _next_month_due(year, month, calendar),
        )
    if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", text):
        year, quarter = int(m[1]), int(m[2])
        first, last = 3 * quarter - 2, 3 * quarter
        start, end = date(year, first, 1), date(year, last, monthrange(year, last)[1])
        return Period(
            "quarter",
            f"{year}-Q{quarter}",
            f"{year}年第{'一二三四'[quarter - 1]}季度",
            start,
            end,
            _next_month_due(year, last, calendar),
        )
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return Period(
            "year",
            str(year),
            f"{year}年度",
            date(year, 1, 1),
            date(year, 12, 31),
            date(year + 1, 1, 15),
        )
    raise Invalid("period_invalid", f"报告期“{text}”无效，应为 2026-10、2026-Q4 或 2026")


def _next_month_due(year: int, month: int, calendar: WorkCalendar | None) -> date:
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return nth_workday_of_month(year, month, REPORT_DUE_WORKDAY, calendar=calendar)


def build(
    session: Session,
    *,
    period: Period,
    calendar: WorkCalendar | None = None,
    encode: metrics.Encode | None = None,
    policy_push_workdays: int = 3,
    default_review_days: int = 180,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report's content: operations, common questions, gaps, indicators per department."""
    now = now or utcnow()
    indicators = metrics.compute(
        session,
        start=period.start,
        end=period.end,
        calendar=calendar,
        policy_push_workdays=policy_push_workdays,
        default_review_days=default_review_days,
        now=now,
    )
    return {
        "title": f"12345热线知识库运行情况报告（{period.label}）",
        "period": {
            "kind": period.kind,
            "key": period.key,
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "due_date": period.due.isoformat(),
        "generated_at": now.astimezone(SHANGHAI).isoformat(timespec="seconds"),
        "operations": _operations(session, period),
        "common_questions": _common_questions(session, period),
        "gaps": metrics.gaps(session, start=period.start, end=period.end, encode=encode, limit=10),
        "indicators": indicators,
    }


def _bounds(period: Period) -> tuple[datetime, datetime]:
    from kb_service.workdays import end_of_day

    return metrics.start_of_day(period.start), end_of_day(period.end)


def _operations(session: Session, period: Period) -> dict[str, Any]:
    lo, hi = _bounds(period)
    logs = session.exec(
        select(IntakeLog).where(col(IntakeLog.at) >= lo, col(IntakeLog.at) <= hi)
    ).all()
    actions = Counter(log.action for log in logs)
    created = session.exec(
        select(Ticket).where(col(Ticket.received_at) >= lo, col(Ticket.received_at) <= hi)
    ).all()
    types = Counter(t.type for t in created)
    closed = session.exec(
        select(TicketEvent).where(
            TicketEvent.kind == "closed", col(TicketEvent.at) >= lo, col(TicketEvent.at) <= hi
        )
    ).all()
    queries = session.exec(
        select(QueryLog).where(col(QueryLog.at) >= lo, col(QueryLog.at) <= hi)
    ).all()
    obligations = session.exec(
        select(Obligation).where(col(Obligation.created_at) >= lo, col(Obligation.created_at) <= hi)
    ).all()
    kinds = Counter(str(o.kind) for o in obligations)
    return {
        "intake_items": len(logs),
        "by_action": [
            {"action": a, "label": ACTION_LABELS.get(a, a), "count": actions.get(a, 0)}
            for a in ACTION_LABELS
        ],
        "tickets_created": len(created),
        "tickets_by_type": [
            {"type": str(t), "label": TICKET_TYPE_LABELS[t], "count": types.get(str(t), 0)}
            for t in TicketType
        ],
        "tickets_closed": len({ev.ticket_id for ev in closed}),
        "queries": len(queries),
        "answerable_queries": sum(1 for q in queries if q.answerable),
        "refresh_obligations_created": kinds.get(ObligationKind.ticket_refresh, 0),
        "knowledge_questions": kinds.get(ObligationKind.knowledge_question, 0),
        "document_change_obligations": kinds.get(ObligationKind.document_change, 0),
    }


def _common_questions(session: Session, period: Period, limit: int = 10) -> list[dict[str, Any]]:
    """The answers operators adopted most often in the period."""
    lo, hi = _bounds(period)
    rows = session.exec(
        select(Feedback)
        .join(QueryLog, col(QueryLog.id) == col(Feedback.query_id))
        .where(
            col(QueryLog.at) >= lo,
            col(QueryLog.at) <= hi,
            Feedback.verdict == FeedbackVerdict.adopted,
            Feedback.item_kind == "entry",
        )
    ).all()
    counts = Counter(fb.item_id for fb in rows)
    out = []
    for entry_id, n in counts.most_common(limit):
        entry = session.get(Entry, entry_id)
        dept = session.get(Department, entry.department_id) if entry else None
        out.append(
            {
                "entry_id": entry_id,
                "question": entry.question if entry else "",
                "department": dept.code if dept else None,
                "department_name": dept.name if dept else None,
                "adopted": n,
            }
        )
    return out


# --- rendering -----------------------------------------------------------------------------


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    reasons = row.get("not_helpful_by_reason") or {}
    return {**row, **{f"nh_{k}": v for k, v in reasons.items()}}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def to_xlsx(report: dict[str, Any]) -> bytes:
    """The report as a workbook whose sheets open with Chinese headers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    bold = Font(bold=True)
    ws = wb.active
    assert ws is not None
    ws.title = "概况"
    ops = report["operations"]
    overall = report["indicators"]["overall"]
    summary: list[tuple[str, Any]] = [
        ("报告", report["title"]),
        ("统计期间", f"{report['period']['start']} 至 {report['period']['end']}"),
        ("报送截止日", report["due_date"]),
        ("生成时间", report["generated_at"]),
        ("受理事项数", ops["intake_items"]),
        *((f"其中{a['label']}", a["count"]) for a in ops["by_action"]),
        ("新建工单数", ops["tickets_created"]),
        ("办结工单数", ops["tickets_closed"]),
        ("智能答复查询数", ops["queries"]),
        ("知识提问数", ops["knowledge_questions"]),
        ("知识库更新率", _pct(overall["update_rate"])),
        ("直接解答率", _pct(overall["direct_answer_rate"])),
        ("最新政策推送率", _pct(overall["policy_push_rate"])),
        ("逾期未复核条目占比", _pct(overall["entries_overdue_review_share"])),
        ("建议采纳率", _pct(overall["adoption_rate"])),
    ]
    ws.append(["项目", "数值"])
    for key, value in summary:
        ws.append([key, value])
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 48

    ws = wb.create_sheet("各单位指标")
    ws.append([header for _, header, _ in COLUMNS])
    for row in [*report["indicators"]["departments"], {**overall, "code": "", "name": "合计"}]:
        flat = _flat(row)
        ws.append([flat.get(key) for key, _, _ in COLUMNS])
    for n, (_, _, is_rate) in enumerate(COLUMNS, start=1):
        letter = ws.cell(row=1, column=n).column_letter
        ws.column_dimensions[letter].width = 14
        if is_rate:
            for cell in ws[letter][1:]:
                cell.number_format = "0.0%"
    ws.column_dimensions["B"].width = 30

    ws = wb.create_sheet("常见问题")
    ws.append(["标准问题", "单位", "采纳次数"])
    for q in report["common_questions"]:
        ws.append([q["question"], q["department_name"], q["adopted"]])
    ws.column_dimensions["A"].width = 50

    ws = wb.create_sheet("知识缺口")
    ws.append(["事项数", "示例（已脱敏）", "分派单位"])
    for g in report["gaps"]:
        ws.append(
            [
                g["size"],
                "；".join(g["examples"]),
                "、".join(f"{d['name']}（{d['count']}）" for d in g["departments"]),
            ]
        )
    ws.column_dimensions["B"].width = 80
    for sheet in wb.worksheets:
        for cell in sheet[1]:
            cell.font = bold
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def chart_svg(rows: list[dict[str, Any]], *, key: str = "update_rate", title: str = "") -> str:
    """A horizontal bar chart (inline SVG) of one rate per department."""
    bar_h, gap, left, width = 26, 10, 260, 420
    top = 40
    height = top + len(rows) * (bar_h + gap) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" '
        f'role="img" aria-label="{_esc(title)}" font-family="sans-serif" font-size="14">',
        f'<text x="0" y="20" font-size="16" font-weight="bold">{_esc(title)}</text>',
    ]
    for pct in (0, 50, 100):
        x = left + width * pct / 100
        parts.append(
            f'<line x1="{x:.0f}" y1="{top - 6}" x2="{x:.0f}" y2="{height - 24}" '
            'stroke="#ccc" stroke-dasharray="3,3"/>'
            f'<text x="{x:.0f}" y="{height - 8}" text-anchor="middle" fill="#666">{pct}%</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * (bar_h + gap)
        value = row.get(key)
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_h * 0.7:.0f}" text-anchor="end">'
            f"{_esc(str(row.get('name') or row.get('code')))}</text>"
        )
        if value is None:
            parts.append(
                f'<text x="{left + 4}" y="{y + bar_h * 0.7:.0f}" fill="#888">无应更新任务</text>'
            )
            continue
        w = max(width * float(value), 1.0)
        colour = "#2e7d32" if value >= 0.9 else "#f9a825" if value >= 0.6 else "#c62828"
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + bar_h * 0.7:.0f}">{_pct(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


_TEMPLATE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{ r.title }}</title>
<style>
 body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
        "Microsoft YaHei", sans-serif; margin: 24px 32px; color: #222; }
 h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px;
 border-left: 4px solid #1565c0; padding-left: 8px; }
 .meta { color: #555; font-size: 13px; }
 table { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
 th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: right; }
 th { background: #e3f2fd; text-align: center; } td.t { text-align: left; }
 .cards { display: flex; gap: 12px; flex-wrap: wrap; }
 .card { border: 1px solid #ccd; border-radius: 6px; padding: 8px 14px; min-width: 130px; }
 .card b { display: block; font-size: 20px; color: #1565c0; }
</style>
</head>
<body>
<h1>{{ r.title }}</h1>
<div class="meta">统计期间：{{ r.period.start }} 至 {{ r.period.end }}　报送截止日：{{ r.due_date }}
　生成时间：{{ r.generated_at }}</div>

<h2>一、总体指标</h2>
<div class="cards">
{% for label, key in headline %}<div class="card">{{ label }}<b>{{ pct(o.get(key)) }}</b></div>
{% endfor %}</div>

<h2>二、运行情况</h2>
<table>
<tr><th>受理事项</th>{% for a in r.operations.by_action %}<th>{{ a.label }}</th>{% endfor %}
<th>新建工单</th><th>办结工单</th><th>智能答复查询</th><th>知识提问</th></tr>
<tr><td>{{ r.operations.intake_items }}</td>
{% for a in r.operations.by_action %}<td>{{ a.count }}</td>{% endfor %}
<td>{{ r.operations.tickets_created }}</td><td>{{ r.operations.tickets_closed }}</td>
<td>{{ r.operations.queries }}</td><td>{{ r.operations.knowledge_questions }}</td></tr>
</table>

<h2>三、各单位知识库更新率</h2>
{{ chart | safe }}

<h2>四、各单位指标</h2>
<table>
<tr>{% for _, header, _ in columns %}<th>{{ header }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for key, _, is_rate in columns %}
<td{% if key in ("code", "name") %} class="t"{% endif %}>
{%- if is_rate %}{{ pct(row[key]) }}{% elif row[key] is none %}—{% else %}{{ row[key] }}{% endif -%}
</td>{% endfor %}</tr>
{% endfor %}</table>

<h2>五、常见问题（采纳次数最多的答复）</h2>
{% if r.common_questions %}<table><tr><th>标准问题</th><th>单位</th><th>采纳次数</th></tr>
{% for q in r.common_questions %}<tr><td class="t">{{ q.question }}</td>
<td class="t">{{ q.department_name }}</td><td>{{ q.adopted }}</td></tr>{% endfor %}</table>
{% else %}<p>本期无采纳记录。</p>{% endif %}

<h2>六、知识缺口（无可用答复的事项，按语义归类）</h2>
{% if r.gaps %}<table><tr><th>事项数</th><th>示例（已脱敏）</th><th>分派单位</th></tr>
{% for g in r.gaps %}<tr><td>{{ g.size }}</td><td class="t">{{ g.examples | join("；") }}</td>
<td class="t">{% for d in g.departments %}{{ d.name }}（{{ d.count }}）{% if not loop.last %}、
{% endif %}{% endfor %}</td></tr>{% endfor %}</table>
{% else %}<p>本期无知识缺口。</p>{% endif %}
</body>
</html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
HEADLINE = [
    ("知识库更新率", "update_rate"),
    ("直接解答率", "direct_answer_rate"),
    ("最新政策推送率", "policy_push_rate"),
    ("逾期未复核条目占比", "entries_overdue_review_share"),
    ("建议采纳率", "adoption_rate"),
]


def to_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page with an inline SVG chart."""
    depts = report["indicators"]["departments"]
    overall = report["indicators"]["overall"]
    rows = [
        {key: flat.get(key) for key, _, _ in COLUMNS}
        for flat in [_flat(d) for d in depts] + [_flat({**overall, "code": "", "name": "合计"})]
    ]
    chart = chart_svg(depts, title=f"各单位知识库更新率（{report['period']['label']}）")
    template = _env.from_string(_TEMPLATE)
    return template.render(
        r=report,
        o=overall,
        rows=rows,
        columns=COLUMNS,
        headline=HEADLINE,
        chart=chart,
        pct=_pct,
    )


def render(report: dict[str, Any], fmt: str) -> tuple[bytes, str]:
    """(body, media type) of the report in `fmt`."""
    import json

    if fmt == "json":
        body = json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
        return body, "application/json"
    if fmt == "xlsx":
        return (
            to_xlsx(report),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if fmt == "html":
        return to_html(report).encode("utf-8"), "text/html; charset=utf-8"
    raise Invalid("format_invalid", f"不支持的格式“{fmt}”，可选 json、xlsx、html")
