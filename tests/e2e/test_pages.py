"""End to end in Debian Chromium: operator, emergency, edit → review → serve, manager report."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

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
