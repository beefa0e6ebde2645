"""Intake routing: emergency diversion, non-acceptance, answer, ticket type/department/due date.

Accuracy on the hand-written lists (run with -s to see the figures):
    .venv/bin/pytest tests/kb_service/test_routing.py -k accuracy -s
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kb_service import routing
from kb_service.errors import Invalid
from kb_service.routing import (
    Action,
    Decision,
    DepartmentSource,
    IntakeItem,
    RuleSet,
    ServiceRoutes,
    TicketType,
    decide,
    dry_run,
)

DATA = Path(__file__).parent / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 9, 24, 10, 30, tzinfo=SHANGHAI)


def rows(name: str) -> Iterator[list[str]]:
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split("\t")


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=SHANGHAI) + timedelta(days=1, microseconds=-1)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.default()


def item(text: str, *, region: str | None = "西宁市", **kw: object) -> IntakeItem:
    return IntakeItem(text=text, region=region, at=AT, **kw)  # type: ignore[arg-type]


def route(rules: RuleSet, text: str, *, answerable: bool = False, **kw: object) -> Decision:
    return decide(item(text, **kw), rules=rules, answerable=answerable)


EMERGENCY = list(rows("emergency.txt"))
NON_EMERGENCY = [r[0] for r in rows("non_emergency.txt")]
REJECT = list(rows("reject.tsv"))
TICKET_TYPES = list(rows("ticket_types.tsv"))


# --------------------------------------------------------------------------- the lists


def test_lists_are_big_enough() -> None:
    assert len(EMERGENCY) >= 70 and len(NON_EMERGENCY) >= 70
    assert len(TICKET_TYPES) >= 110 and len(REJECT) >= 30
    assert {n for n, _ in EMERGENCY} == set(routing.EMERGENCY_NUMBERS)


@pytest.mark.parametrize(("number", "text"), EMERGENCY, ids=[t for _, t in EMERGENCY])
def test_emergency_is_diverted_to_the_right_number(rules: RuleSet, number: str, text: str) -> None:
    decision = route(rules, text, answerable=True)
    assert decision.action is Action.DIVERT, decision
    assert decision.divert_to == number, decision
    assert decision.say and decision.rule_id


@pytest.mark.parametrize("text", NON_EMERGENCY)
def test_mere_mention_of_fire_police_hospital_is_not_diverted(rules: RuleSet, text: str) -> None:
    decision = route(rules, text)
    assert decision.action is not Action.DIVERT, decision


@pytest.mark.parametrize(("rule_id", "region", "text"), REJECT, ids=[t for *_, t in REJECT])
def test_not_accepted_with_reason_and_channel(
    rules: RuleSet, rule_id: str, region: str, text: str
) -> None:
    decision = route(rules, text, region=None if region == "-" else region, answerable=True)
    assert decision.action is Action.REJECT, decision
    assert decision.rule_id == rule_id
    assert decision.reason and decision.channel and decision.ticket is None


def _confusion(pairs: Sequence[tuple[str, str]]) -> str:
    counts = Counter(pairs)
    return "\n".join(f"  expected {e:<12} got {g:<12} ×{n}" for (e, g), n in sorted(counts.items()))


def test_ticket_type_accuracy(rules: RuleSet) -> None:
    pairs: list[tuple[str, str]] = []
    misses: list[str] = []
    for expected, text in TICKET_TYPES:
        decision = route(rules, text)
        got = decision.ticket.type.value if decision.ticket else f"<{decision.action.value}>"
        pairs.append((expected, got))
        if got != expected:
            misses.append(f"  {expected} → {got}: {text}")
    accuracy = sum(e == g for e, g in pairs) / len(pairs)
    print(f"\nticket type accuracy {accuracy:.3f} on {len(pairs)} items")
    assert accuracy >= 0.9, "confusion:\n" + _confusion(pairs) + "\nmisses:\n" + "\n".join(misses)


def test_list_accuracy_summary(rules: RuleSet) -> None:
    emergency = sum(
        (d := route(rules, t)).action is Action.DIVERT and d.divert_to == n for n, t in EMERGENCY
    )
    clean = sum(route(rules, t).action is not Action.DIVERT for t in NON_EMERGENCY)
    rejected = sum(
        route(rules, t, region=None if r == "-" else r).rule_id == rid for rid, r, t in REJECT
    )
    print(
        f"\nemergency {emergency}/{len(EMERGENCY)}, non-emergency not diverted "
        f"{clean}/{len(NON_EMERGENCY)}, reject {rejected}/{len(REJECT)}"
    )
    assert emergency == len(EMERGENCY) and clean == len(NON_EMERGENCY)
    assert rejected == len(REJECT)


# --------------------------------------------------------------------------- order and guards


def test_unless_masks_only_the_guard_phrase(rules: RuleSet) -> None:
    assert route(rules, "消防通道被占用").action is not Action.DIVERT
    assert route(rules, "小区存在火灾隐患").action is not Action.DIVERT
    decision = route(rules, "消防通道被堵了，现在楼里着火了")
    assert decision.divert_to == "119"


def test_urgent_words_override_the_veto(rules: RuleSet) -> None:
    assert route(rules, "上周说的火灾隐患没人管").action is not Action.DIVERT
    assert route(rules, "快来，仓库着火了，上次检查就说有隐患").divert_to == "119"


def test_emergency_outranks_non_acceptance(rules: RuleSet) -> None:
    decision = route(rules, "我在兰州，家里着火了", region="甘肃省兰州市")
    assert decision.divert_to == "119"
    assert route(rules, "家里着火了", region="甘肃省兰州市", answerable=True).divert_to == "119"


def test_unknown_region_is_not_refused_as_out_of_province(rules: RuleSet) -> None:
    decision = route(rules, "小区物业乱收费", region=None)
    assert decision.action is Action.TICKET


def test_answer_when_knowledge_base_can_answer(rules: RuleSet) -> None:
    decision = route(rules, "身份证丢了怎么补办", answerable=True)
    assert decision.action is Action.ANSWER and decision.ticket is None
    assert route(rules, "法院判决了我不服", answerable=True).action is Action.REJECT


def test_scripted_answer_rule(rules: RuleSet) -> None:
    decision = route(rules, "12345晚上几点下班")
    assert decision.action is Action.ANSWER and decision.rule_id == "answer-hotline-hours"
    assert decision.say and "24小时" in decision.say


# --------------------------------------------------------------------------- tickets


def test_complaint_ticket_due_across_national_day(rules: RuleSet) -> None:
    decision = route(rules, "物业收了维修基金也不修电梯")
    ticket = decision.ticket
    assert decision.action is Action.TICKET and ticket is not None
    assert ticket.type is TicketType.COMPLAINT
    assert ticket.department == "housing"
    assert ticket.department_source is DepartmentSource.RULE
    assert decision.rule_id == ticket.department_rule_id == "dept-housing"
    assert ticket.limit_workdays == 10
    assert ticket.due == end_of(2026, 10, 15)
    assert ticket.form_by == AT + timedelta(hours=24)
    assert decision.say and "10个工作日" in decision.say and "住房和城乡建设厅" in decision.say


def test_complex_consultation_gets_five_working_days(rules: RuleSet) -> None:
    decision = route(rules, "公积金贷款最多能贷多少", complex=True)
    assert decision.ticket is not None
    assert decision.ticket.type is TicketType.CONSULTATION
    assert decision.ticket.limit_workdays == 5
    assert decision.ticket.due == end_of(2026, 10, 9)


def test_now_is_when_the_ticket_is_formed(rules: RuleSet) -> None:
    later = datetime(2026, 9, 30, 9, tzinfo=SHANGHAI)
    decision = decide(item("失业金能领几个月"), rules=rules, answerable=False, now=later)
    assert decision.ticket is not None and decision.ticket.due == end_of(2026, 10, 9)


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("医保卡丢了去哪补", "medical-insurance"),
        ("单位拖欠工资半年了", "hrss"),
        ("派出所办户口要什么材料", "public-security"),
        ("超市卖过期面包", "market"),
        ("出租车拒载", "transport"),
        ("孩子上小学要什么材料", "education"),
        ("医院挂号太难了", "health"),
        ("个体户怎么开发票", "tax"),
        ("物业乱收停车费", "housing"),
        ("低保怎么申请", "civil-affairs"),
        ("化工厂偷排污水", "ecology"),
        ("有人在草原上偷猎", "forestry"),
        ("快递丢了快递公司不赔", "postal"),
        ("想申请法律援助", "justice"),
    ],
)
def test_department_keyword_routing(rules: RuleSet, text: str, department: str) -> None:
    decision = route(rules, text)
    assert decision.ticket is not None and decision.ticket.department == department


def test_service_route_table_is_a_fallback_signal() -> None:
    routes = ServiceRoutes({"渔业捕捞许可证核发": "agriculture"})
    rules = RuleSet.load(
        "version: 1\nrules:\n  - {id: t, action: ticket, ticket_type: help, keywords: [帮]}\n",
        service_routes=routes,
    )
    decision = decide(item("想办一个渔业捕捞许可证"), rules=rules, answerable=False)
    assert decision.ticket is not None
    assert decision.ticket.department == "agriculture"
    assert decision.ticket.department_source is DepartmentSource.SERVICE_ROUTE
    assert decision.ticket.service_name == "渔业捕捞许可证核发"
    assert decision.rule_id is None
    other = decide(item("天气怎么样"), rules=rules, answerable=False)
    assert other.ticket is not None
    assert other.ticket.department == "hotline"
    assert other.ticket.department_source is DepartmentSource.DEFAULT


def test_bundled_service_routes_are_compact_and_known() -> None:
    path = Path(routing.__file__).parent / "data" / "service_routes.json"
    assert path.stat().st_size < 1_000_000
    table = json.loads(path.read_text(encoding="utf-8"))
    assert len(table) > 1000
    assert set(table.values()) <= set(routing.bundled_departments())
    match = ServiceRoutes.bundled().match("取水许可证办理需要多久")
    assert match is not None and table[match[0]] == "water"


def test_service_route_match_with_a_tokenizer() -> None:
    routes = ServiceRoutes({"导游证查询": "culture-tourism", "律师执业证书注销": "justice"})
    match = routes.match("导游证怎么查", tokenize=lambda s: ["导游证", "导游", "怎么", "查"])
    assert match is not None and match[0] == "导游证查询"


# --------------------------------------------------------------------------- conditions


SIMPLE = """
version: 2
rules:
  - id: sim
    priority: 5
    action: divert
    divert_to: 120
    say: 转接120
    similar_to: {examples: [我爸晕倒了], threshold: 0.8}
  - id: term
    action: ticket
    department: tax
    terms: [个税]
  - id: region
    action: ticket
    department: haidong
    region_in: [海东]
    category_in: [城建]
"""


def test_similar_to_uses_the_injected_callable_and_is_false_without_it() -> None:
    rules = RuleSet.load(SIMPLE, service_routes={})
    calls: list[tuple[str, list[str]]] = []

    def sim(text: str, examples: Sequence[str]) -> float:
        calls.append((text, list(examples)))
        return 0.9 if "老人" in text else 0.1

    hit = decide(item("家里老人躺地上了"), rules=rules, answerable=False, similarity=sim)
    assert hit.divert_to == "120" and calls == [("家里老人躺地上了", ["我爸晕倒了"])]
    miss = decide(item("家里老人躺地上了"), rules=rules, answerable=False)
    assert miss.action is Action.TICKET


NEAREST = """
version: 3
rules:
  - id: near-110
    priority: 5
    action: divert
    divert_to: 110
    say: 转接110
    similar_to: {examples: [有人打架], threshold: 0.8, unlike: [问个事], margin: 0.05}
  - id: near-120
    priority: 5
    action: divert
    divert_to: 120
    say: 转接120
    similar_to: {examples: [有人晕倒], threshold: 0.8, unlike: [问个事], margin: 0.05}
"""


def _table_similarity(table: dict[str, dict[str, float]]) -> tuple[list[tuple], object]:
    calls: list[tuple] = []

    def sim(text: str, examples: Sequence[str]) -> float:
        calls.append((text, tuple(examples)))
        return table[text][examples[0]]

    return calls, sim


def test_equal_priority_similar_rules_compete_on_closeness() -> None:
    rules = RuleSet.load(NEAREST, service_routes={})
    calls, sim = _table_similarity(
        {
            "他倒在地上了": {"有人打架": 0.86, "有人晕倒": 0.93, "问个事": 0.80},
            "他们动手了": {"有人打架": 0.92, "有人晕倒": 0.88, "问个事": 0.80},
        }
    )
    first = decide(item("他倒在地上了"), rules=rules, answerable=False, similarity=sim)
    assert (first.divert_to, first.rule_id) == ("120", "near-120")  # not the first in the file
    # Each example list is compared once per decision, however many rules look at it.
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 3
    second = decide(item("他们动手了"), rules=rules, answerable=False, similarity=sim)
    assert second.divert_to == "110"


def test_similar_to_needs_the_margin_over_the_calm_examples() -> None:
    rules = RuleSet.load(NEAREST, service_routes={})
    _, sim = _table_similarity(
        {"打听个事": {"有人打架": 0.90, "有人晕倒": 0.89, "问个事": 0.88}}  # close, but calmer
    )
    assert decide(item("打听个事"), rules=rules, answerable=False, similarity=sim).action is (
        Action.TICKET
    )


def test_a_margin_without_contrast_examples_is_refused() -> None:
    bad = NEAREST.replace(", unlike: [问个事], margin: 0.05}", ", margin: 0.05}", 1)
    with pytest.raises(Invalid) as err:
        RuleSet.load(bad, service_routes={})
    assert "unlike" in str(err.value)


def test_terms_use_tokens_when_a_tokenizer_is_given() -> None:
    rules = RuleSet.load(SIMPLE, service_routes={})
    text = "个税怎么退"
    no_tok = decide(item(text), rules=rules, answerable=False)
    assert no_tok.ticket is not None and no_tok.ticket.department == "tax"  # substring fallback
    tokens = decide(item(text), rules=rules, answerable=False, tokenize=lambda s: ["个", "税"])
    assert tokens.ticket is not None and tokens.ticket.department == "hotline"


def test_region_and_category_conditions() -> None:
    rules = RuleSet.load(SIMPLE, service_routes={})
    hit = decide(
        item("路坏了", region="海东市乐都区", category="城建"), rules=rules, answerable=False
    )
    assert hit.ticket is not None and hit.ticket.department == "haidong"
    miss = decide(item("路坏了", region="西宁市", category="城建"), rules=rules, answerable=False)
    assert miss.ticket is not None and miss.ticket.department == "hotline"


def test_keywords_match_after_nfkc_and_whitespace_removal(rules: RuleSet) -> None:
    assert route(rules, "家 里 着 火 了").divert_to == "119"
    assert route(rules, "ＫＴＶ没有许可证就营业").ticket is not None


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        IntakeItem(text="x", at=datetime(2026, 9, 24, 10))


# --------------------------------------------------------------------------- validation


BASE = "version: 1\nrules:\n"


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("- {id: a, action: forward, keywords: [x]}", "未知的处置方式"),
        ("- {id: b, action: divert, say: 转, keywords: [x]}", "缺少 divert_to"),
        (
            "- {id: c, action: divert, divert_to: '12345', say: 转, keywords: [x]}",
            "不是紧急热线号码",
        ),
        ("- {id: d, action: divert, divert_to: '110', keywords: [x]}", "缺少 say"),
        ("- {id: e, action: reject, channel: 法院, keywords: [x]}", "缺少 reason"),
        ("- {id: f, action: reject, reason: 不受理, keywords: [x]}", "缺少 channel"),
        ("- {id: g, action: ticket, ticket_type: praise, keywords: [x]}", "未知的工单类型"),
        ("- {id: h, action: ticket, department: nowhere, keywords: [x]}", "未知的部门代码"),
        ("- {id: i, action: ticket, ticket_type: help, regex: ['(']}", "正则表达式"),
        ("- {id: j, action: ticket, ticket_type: help}", "没有任何匹配条件"),
        ("- {id: k, action: ticket, ticket_type: help, any: [{}]}", "条件为空"),
        ("- {id: l, action: ticket, ticket_type: help, keywordz: [x]}", "未知字段 keywordz"),
        ("- {id: m, action: ticket, keywords: [x]}", "至少要设置"),
        ("- {id: n, action: ticket, ticket_type: help, reason: x, keywords: [x]}", "只有不予受理"),
        (
            "- {id: o, action: reject, reason: r, channel: c, divert_to: '110', keywords: [x]}",
            "只有转接",
        ),
        ("- {action: ticket, ticket_type: help, keywords: [x]}", "缺少字段 id"),
    ],
)
def test_invalid_rule_names_the_rule_and_the_problem(rule: str, fragment: str) -> None:
    with pytest.raises(Invalid) as err:
        RuleSet.load(BASE + "  " + rule + "\n", service_routes={})
    assert err.value.code == "rules_invalid"
    assert fragment in err.value.message, err.value.message
    rule_id = rule.split("id: ")[1].split(",")[0] if "id: " in rule else "第 1 条规则"
    assert rule_id in err.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("rules: [", "不是有效的 YAML"),
        ("- 1\n", "顶层应为映射"),
        ("rules:\n  - {id: a, action: ticket, ticket_type: help, keywords: [x]}\n", "version"),
        ("version: 1\nrules: []\n", "非空列表"),
        (
            "version: 1\nmode: strict\nrules:\n  - {id: a, action: answer, say: s, keywords: [x]}",
            "未知的顶层字段 mode",
        ),
    ],
)
def test_invalid_file_structure(text: str, fragment: str) -> None:
    with pytest.raises(Invalid) as err:
        RuleSet.load(text, service_routes={})
    assert err.value.code == "rules_invalid" and fragment in err.value.message


def test_duplicate_ids_and_all_problems_reported_together() -> None:
    text = BASE + (
        "  - {id: a, action: ticket, ticket_type: help, keywords: [x]}\n"
        "  - {id: a, action: ticket, ticket_type: help, keywords: [y]}\n"
        "  - {id: b, action: divert, keywords: [z]}\n"
    )
    with pytest.raises(Invalid) as err:
        RuleSet.load(text, service_routes={})
    problems = err.value.extra["problems"]
    assert any("规则 a" in p and "重复" in p for p in problems)
    assert any("规则 b" in p for p in problems)


def test_load_from_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BASE + "  - {id: a, action: answer, say: 好的, keywords: [你好]}\n", "utf-8")
    for source in (path, str(path)):
        rules = RuleSet.load(source, service_routes={})
        assert rules.version == 1 and rules.rules[0].id == "a"
    with pytest.raises(Invalid):
        RuleSet.load(str(tmp_path / "missing.yaml"))


def test_bundled_rules_load_and_cover_every_emergency_number(rules: RuleSet) -> None:
    numbers = {r.divert_to for r in rules.by_action(Action.DIVERT)}
    assert numbers == set(routing.EMERGENCY_NUMBERS)
    assert {r.ticket_type for r in rules.rules if r.ticket_type} == set(TicketType)


# --------------------------------------------------------------------------- dry run


def test_dry_run_lists_only_changed_decisions(rules: RuleSet) -> None:
    source = (Path(routing.__file__).parent / "data" / "routing_rules.yaml").read_text("utf-8")
    candidate = RuleSet.load(source.replace("- id: dept-postal", "- id: dept-postal-new"))
    items = [item("快递丢了没人赔"), item("医保怎么报销"), item("家里着火了")]
    changed = dry_run(candidate, items, baseline=rules)
    assert [row.item.text for row in changed] == ["快递丢了没人赔"]
    row = changed[0]
    assert row.old.rule_id == "dept-postal" and row.new.rule_id == "dept-postal-new"
    everything = dry_run(candidate, items, baseline=rules, changed_only=False)
    assert len(everything) == 3


def test_dry_run_against_recorded_decisions(rules: RuleSet) -> None:
    recorded = [(it, decide(it, rules=rules, answerable=False)) for it in [item("出租车拒载")]]
    stricter = RuleSet.load(
        BASE + "  - {id: all-transport, action: ticket, department: transport, keywords: [车]}\n",
        service_routes={},
    )
    assert dry_run(rules, recorded) == []
    changed = dry_run(stricter, recorded)
    assert len(changed) == 1 and changed[0].new.ticket is not None
    assert changed[0].new.ticket.type is TicketType.CONSULTATION  # no type rules in candidate


def test_dry_run_without_baseline_needs_recorded_decisions(rules: RuleSet) -> None:
    with pytest.raises(Invalid) as err:
        dry_run(rules, [item("x")])
    assert err.value.code == "baseline_required"


def test_a_complaint_becomes_a_ticket_even_when_the_knowledge_base_has_a_fitting_entry():
    """第二十四条: the KB answers general consultations; complaints still go to the department."""
    from datetime import UTC, datetime

    from kb_service.routing import IntakeItem, RuleSet, decide

    rules = RuleSet.default()
    at = datetime(2026, 10, 12, 2, tzinfo=UTC)
    complaint = decide(
        IntakeItem(text="我要投诉小区门口餐馆油烟扰民", at=at), rules=rules, answerable=True
    )
    assert complaint.action == "ticket" and complaint.ticket.type == "complaint"
    question = decide(IntakeItem(text="请问社保卡在哪里补办", at=at), rules=rules, answerable=True)
    assert question.action == "answer"
