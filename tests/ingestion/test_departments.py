"""Department resolution from the bundled department records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingestion.departments import DepartmentResolver

DATA = Path(__file__).resolve().parents[2] / "kb_service" / "data" / "departments.json"


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return json.loads(DATA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resolver(records: list[dict[str, Any]]) -> DepartmentResolver:
    return DepartmentResolver(records)


@pytest.mark.parametrize(
    ("mention", "code"),
    [
        ("省公安厅", "public-security"),
        ("青海省公安厅", "public-security"),
        ("省 公 安 厅", "public-security"),
        ("省政府办公厅", "gov-office"),
        ("省人力资源社会保障厅", "hrss"),
        ("国家税务总局青海省税务局", "tax"),
        ("省税务局", "tax"),
        ("省医保局牵头", "medical-insurance"),
        ("省住房城乡建设厅等相关部門按职责分工负责", "housing"),
        ("西宁市１２３４５热线", "xining-hotline"),
        ("省应急管理厅", "emergency"),
    ],
)
def test_resolve(resolver: DepartmentResolver, mention: str, code: str) -> None:
    assert resolver.resolve(mention) == code


def test_resolve_unknown(resolver: DepartmentResolver) -> None:
    assert resolver.resolve("各地区各部门") is None
    assert resolver.resolve("") is None
    assert resolver.resolve("   ") is None


def test_longest_alias_wins() -> None:
    resolver = DepartmentResolver(
        [
            {"code": "city", "name": "西宁市人民政府", "aliases": ["西宁市"]},
            {"code": "city-hotline", "name": "西宁市12345热线", "aliases": []},
        ]
    )
    assert resolver.resolve("西宁市12345热线") == "city-hotline"
    assert resolver.find_in_text("请拨打西宁市12345热线或联系西宁市") == ["city-hotline", "city"]


def test_find_in_text_order(resolver: DepartmentResolver) -> None:
    assert resolver.find_in_text("省公安厅、省政府办公厅牵头") == ["public-security", "gov-office"]
    text = "省教育厅、省公安厅、省人力资源社会保障厅、省卫生健康委按职责分工负责，省公安厅配合"
    assert resolver.find_in_text(text) == ["education", "public-security", "hrss", "health"]


def test_empty_records() -> None:
    resolver = DepartmentResolver([])
    assert resolver.resolve("省公安厅") is None
    assert resolver.find_in_text("省公安厅") == []


def test_records_without_code_are_skipped() -> None:
    resolver = DepartmentResolver([{"name": "省公安厅"}, {"code": "x", "name": "省民政厅"}])
    assert resolver.resolve("省公安厅") is None
    assert resolver.resolve("省民政厅") == "x"
