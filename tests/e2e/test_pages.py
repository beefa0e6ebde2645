"""End to end in Debian Chromium: operator, emergency, edit → review → serve, manager report,
department obligations inbox and policy-file upload."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def ask(page: Any, text: str) -> None:
    """Type what the caller says into the sidebar, key by key."""
    box = page.get_by_label("来电内容")
    box.fill("")
    box.press_sequentially(text, delay=15)


def test_operator_types_a_question_and_adopts_a_suggestion(sign_in: Any, screenshots: Path) -> None:
    page = sign_in("operator")
    expect(page).to_have_url(re.compile(r"/operator$"))
    ask(page, "12345热线晚上能打通吗")
    first = page.locator("#suggestions .sugg").first
    expect(first).to_be_visible()
    expect(first.locator("mark").first).to_be_visible()
    expect(first.locator(".badge")).to_have_text("有效")
    expect(page.locator("#suggestions .sugg").filter(has_text="24小时").first).to_be_visible()
    page.get_by_label("来电内容").press("ArrowDown")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    expect(first).to_have_class("sugg adopted")
    expect(page.locator("#toast")).to_have_text("已采用该答复口径")
    page.screenshot(path=str(screenshots / "operator.png"))
    page.keyboard.press("Escape")
    expect(page.get_by_label("来电内容")).to_have_value("")
    expect(page.get_by_label("来电内容")).to_be_focused()

    narrow = sign_in("operator", width=360, height=800)
    ask(narrow, "12345热线晚上能打通吗")
    expect(narrow.locator("#suggestions .sugg").first).to_be_visible()
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"sidebar overflows horizontally at 360 px ({width} px)"
    narrow.screenshot(path=str(screenshots / "operator-360.png"))


def test_operator_marks_a_suggestion_not_accurate_with_a_reason(sign_in: Any, api: Any) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    # One day either side, so a run across midnight still counts the query in the range.
    span = {
        "start": (today - timedelta(days=1)).isoformat(),
        "end": (today + timedelta(days=1)).isoformat(),
    }

    def outdated() -> tuple[int, int]:
        r = api("manager").get("/api/v1/metrics", params=span)
        assert r.ok, r.text()
        body = r.json()
        hotline = next((d for d in body["departments"] if d["code"] == "hotline"), None)
        by_dept = hotline["not_helpful_by_reason"]["outdated"] if hotline else 0
        return body["overall"]["not_helpful_by_reason"]["outdated"], by_dept

    before = outdated()
    page = sign_in("operator")
    ask(page, "12345热线晚上能打通吗")
    # The page copies the text of the query it rendered into the question box: once that is the
    # whole text, the cards are the final ones (no later refresh replaces the reason box).
    expect(page.get_by_label("问题", exact=True)).to_have_value("12345热线晚上能打通吗")
    card = page.locator("#suggestions .sugg").filter(has_text="24小时").first
    expect(card).to_be_visible()
    card.get_by_role("button", name="不准确").click()
    reasons = card.get_by_role("group", name="不准确的原因")
    expect(reasons.get_by_role("button")).to_have_text(["过时", "错误", "不完整", "不相关"])
    reasons.get_by_role("button", name="过时").click()
    expect(page.locator("#toast")).to_have_text("已记录“过时”反馈，谢谢")
    expect(card.get_by_text("已反馈：过时")).to_be_visible()
    expect(reasons).to_have_count(0)
    card.get_by_role("button", name="不准确").click()  # once per card: only a reminder
    expect(page.locator("#toast")).to_have_text("已反馈过：过时")
    expect(reasons).to_have_count(0)

    overall, hotline = outdated()
    assert overall == before[0] + 1, "the 过时 feedback is not counted overall"
    assert hotline == before[1] + 1, "the 过时 feedback is not counted for the entry's department"


def test_operator_sends_a_knowledge_question_to_a_department(sign_in: Any, api: Any) -> None:
    text = "请问青海省新能源汽车充电桩安装补贴怎么申请"
    page = sign_in("operator")
    ask(page, text)
    expect(page.locator("#op-status")).to_have_text(re.compile(r"^共 \d+ 条建议$"))
    page.get_by_text("知识提问（找不到答案时发给单位）").click()
    question = page.get_by_label("问题", exact=True)
    expect(question).to_have_value(text)  # filled in from what the caller said
    page.get_by_label("提问单位").select_option(label="青海省12345政务服务便民热线")
    page.get_by_role("button", name="发送知识提问").click()
    expect(page.locator("#kq-result")).to_have_text("知识提问已发送，单位答复后将更新知识库")

    mine = api("operator").get("/api/v1/knowledge-questions")
    assert mine.ok, mine.text()
    sent = next(q for q in mine.json() if q["text"] == text)
    assert sent["kind"] == "knowledge_question"
    assert sent["department"] == "hotline"
    assert sent["query_id"] is not None, "the question is not linked to the caller's query"
    assert sent["answer"] is None
    inbox = api("editor").get("/api/v1/knowledge-questions")
    assert inbox.ok, inbox.text()
    assert sent["id"] in [q["id"] for q in inbox.json()], "the hotline editor does not see it"


def test_emergency_shows_the_banner_with_119(sign_in: Any) -> None:
    page = sign_in("operator")
    ask(page, "楼下着火了，快来人")
    banner = page.locator(".banner.divert")
    expect(banner).to_be_visible()
    expect(banner.locator(".number")).to_have_text("119")
    expect(banner).to_contain_text("消防")


def test_editor_updates_reviewer_publishes_operator_sees_new_text(
    sign_in: Any, screenshots: Path
) -> None:
    new_text = "【测试更新】夜间和节假日同样有人工接听，请放心来电。"
    editor = sign_in("editor")
    expect(editor).to_have_url(re.compile(r"/department$"))
    editor.get_by_label("搜索").fill("几点上班")
    editor.get_by_role("button", name="查询").click()
    editor.locator("#entries-table tbody tr").filter(has_text="几点上班").first.click()
    answer = editor.get_by_label("答复口径")
    expect(answer).to_have_value(re.compile("24小时"))
    answer.fill(answer.input_value() + new_text)
    editor.get_by_label("修改说明").fill("补充夜间接听说明")
    editor.get_by_role("button", name="提交审核").click()
    expect(editor.locator("#editor-meta")).to_contain_text("待审核")

    reviewer = sign_in("reviewer")
    reviewer.get_by_label("状态").select_option("in_review")
    row = reviewer.locator("#entries-table tbody tr").filter(has_text="几点上班").first
    row.click()
    expect(reviewer.get_by_label("答复口径")).to_have_value(re.compile(re.escape(new_text)))
    reviewer.get_by_role("button", name="批准发布").click()
    expect(reviewer.locator("#editor-meta")).to_contain_text("已发布")
    reviewer.get_by_role("button", name="与上一版内容对比").first.click()
    expect(reviewer.locator("#diff ins").first).to_contain_text("测试更新")
    reviewer.get_by_label("状态").select_option("")
    expect(reviewer.locator("#entries-table tbody tr").first).to_be_visible()
    reviewer.evaluate("window.scrollTo(0, 0)")
    reviewer.screenshot(path=str(screenshots / "department.png"))

    operator = sign_in("operator")
    cards = operator.locator("#suggestions .sugg").filter(has_text="测试更新")
    for _ in range(20):  # the index catches up with the database in the background
        ask(operator, "12345热线几点上班")
        operator.wait_for_timeout(600)
        if cards.count():
            break
    expect(cards.first).to_be_visible()


def test_manager_opens_the_dashboard_and_downloads_a_report(
    sign_in: Any, screenshots: Path, tmp_path: Path
) -> None:
    operator = sign_in("operator")  # one answered call, so the indicators have data
    ask(operator, "12345热线晚上能打通吗")
    operator.locator("#suggestions .sugg .adopt").first.click()
    expect(operator.locator("#toast")).to_have_text("已采用该答复口径")
    page = sign_in("manager")
    expect(page).to_have_url(re.compile(r"/manager$"))
    rows = page.locator("#metrics-table tbody tr")
    expect(rows.first).to_contain_text("青海省")
    header = page.locator("#metrics-table th[data-key='name']")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("#chart svg, #chart p").first).to_be_visible()
    page.screenshot(path=str(screenshots / "manager.png"), full_page=True)
    with page.expect_download() as info:
        page.get_by_role("link", name="下载 XLSX").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    assert zipfile.is_zipfile(target), "the report is not an XLSX (zip) file"


def test_editor_confirms_a_closed_tickets_obligation_in_the_inbox(sign_in: Any, api: Any) -> None:
    text = "请问12345热线能否通过微信公众号提交诉求"
    r = api("operator").post(
        "/api/v1/tickets", data={"text": text, "type": "consultation", "department": "hotline"}
    )
    assert r.ok, r.text()
    ticket_no = r.json()["ticket_no"]
    r = api("editor").post(f"/api/v1/tickets/{ticket_no}/close", data={"result": "已答复来电人"})
    assert r.ok, r.text()
    inbox = api("editor").get("/api/v1/departments/hotline/obligations").json()
    ob = next(o for o in inbox if o["ticket_no"] == ticket_no)
    due = datetime.fromisoformat(ob["due_at"]).astimezone(ZoneInfo("Asia/Shanghai"))

    page = sign_in("editor")
    tab = page.get_by_role("tab", name="待办义务")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(page.locator("#ob-status")).to_contain_text("最早到期的在前")
    item = page.locator("#obligations li").filter(has_text=ticket_no)
    expect(item.locator("h3")).to_have_text("工单办结后知识更新 · 待办")
    expect(item.locator("blockquote")).to_have_text(text)
    expect(item).to_contain_text(f"到期：{due:%Y-%m-%d %H:%M} · 工单 {ticket_no}")
    confirm = item.get_by_role("button", name="确认无需修改")
    confirm.click()
    expect(item.get_by_role("status")).to_have_text("请填写确认说明")
    item.get_by_label("确认说明").fill("现有口径仍然准确，无需修改")
    confirm.click()
    expect(page.locator("#toast")).to_have_text("已确认")
    expect(item.locator("h3")).to_have_text("工单办结后知识更新 · 按时完成")
    expect(item).to_contain_text("已办结：确认无需修改")
    expect(confirm).to_have_count(0)
    still_open = api("editor").get(
        "/api/v1/departments/hotline/obligations", params={"state": "open"}
    )
    assert ticket_no not in [o["ticket_no"] for o in still_open.json()]


POLICY = """西宁市12345政务服务便民热线知识库管理办法

宁政办〔2026〕88号

第一条 为规范12345政务服务便民热线知识库的建设和管理，提高答复的准确性，制定本办法。

第二条 各承办单位应当在咨询类工单办结后两个工作日内，更新本单位的相关知识条目。

第三条 本办法自印发之日起施行。
"""


def test_editor_uploads_a_policy_file_and_reads_the_report(sign_in: Any, tmp_path: Path) -> None:
    policy = tmp_path / "知识库管理办法.md"
    policy.write_text(POLICY, encoding="utf-8")
    empty = tmp_path / "空白.txt"
    empty.write_bytes(b"")

    page = sign_in("editor")
    page.get_by_role("tab", name="文件上传").click()
    upload = page.get_by_label(re.compile("^文件（"))
    status = page.locator("#upload-status")
    report = page.locator("#upload-report")
    upload.set_input_files(policy)
    page.get_by_role("button", name="上传并解析").click()
    expect(status).to_have_text("解析完成")
    expect(report.get_by_role("heading", name="解析报告")).to_be_visible()
    expect(report).to_contain_text("文件 1 份，段落 3 段，条目 0 条，未通过 0 项")
    expect(report.locator("li")).to_have_text(
        re.compile(r"宁政办〔2026〕88号 .*知识库管理办法（第 1 版，3 段；新增 3、修改 0、删除 0）")
    )
    expect(report.get_by_role("heading", name="未通过的内容")).to_have_count(0)

    upload.set_input_files(empty)
    page.get_by_role("button", name="上传并解析").click()
    expect(report).to_contain_text("文件 0 份，段落 0 段，条目 0 条，未通过 1 项")
    expect(report.get_by_role("heading", name="未通过的内容")).to_be_visible()
    expect(report.locator("li.error")).to_have_text("空白.txt：文件为空，没有可导入的内容")
