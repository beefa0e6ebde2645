"""Intake routing as data: divert emergencies, refuse what the hotline does not accept, else ticket.

The decision order follows 青政办〔2022〕57号 第十一条、第十二条、第十四条: emergency divert rules
first (110/119/120/122), then non-acceptance (reason + better channel), then an answer from the
knowledge base when one is available, then a ticket: type, responsible department, due date.
Pure logic: no database, no HTTP. Rules live in a versioned YAML file (`data/routing_rules.yaml`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from kb_service import timelimits
from kb_service.errors import Invalid
from kb_service.timelimits import TICKET_TYPE_LABELS, TicketType, TimeLimits
from kb_service.workdays import WorkCalendar

__all__ = [
    "EMERGENCY_NUMBERS",
    "Action",
    "Condition",
    "Decision",
    "DepartmentSource",
    "DryRunRow",
    "IntakeItem",
    "Rule",
    "RuleSet",
    "ServiceRoutes",
    "SimilarTo",
    "TicketPlan",
    "TicketType",
    "bundled_departments",
    "decide",
    "dry_run",
    "normalize",
]

Similarity = Callable[[str, Sequence[str]], float]
Tokenize = Callable[[str], Iterable[str]]

EMERGENCY_NUMBERS: dict[str, str] = {
    "110": "公安报警",
    "119": "消防救援",
    "120": "医疗急救",
    "122": "交通事故报警",
}

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, drop all whitespace, lower-case Latin letters: the form every rule matches against."""
    return _WS.sub("", unicodedata.normalize("NFKC", text)).lower()


class Action(StrEnum):
    """What the operator does with the request."""

    DIVERT = "divert"  # 转接紧急热线
    REJECT = "reject"  # 不予受理，说明理由并引导
    ANSWER = "answer"  # 依据知识库即时答复
    TICKET = "ticket"  # 形成工单转办


class DepartmentSource(StrEnum):
    """Which signal chose the ticket's department."""

    RULE = "rule"
    SERVICE_ROUTE = "service_route"
    DEFAULT = "default"


# ---------------------------------------------------------------------------------------------
# Rules file
# ---------------------------------------------------------------------------------------------

_CONDITION_FIELDS = (
    "keywords",
    "regex",
    "terms",
    "region_in",
    "region_not_in",
    "category_in",
    "similar_to",
)


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


class SimilarTo(BaseModel):
    """Semantic condition: nearest-example similarity, optionally against contrast examples.

    Holds when the text's best similarity to `examples` reaches `threshold` and, when `unlike`
    is given, beats its best similarity to `unlike` by at least `margin`. Cosines of e5-style
    models sit in a narrow band (0.8-0.95), so a bare threshold separates poorly; "closer to the
    emergencies than to anything calm we know" is what generalises to new phrasings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    examples: list[str] = Field(min_length=1)
    threshold: float = Field(gt=0, le=1)
    unlike: list[str] = Field(default_factory=list)
    margin: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _margin_needs_unlike(self) -> SimilarTo:
        if self.margin and not self.unlike:
            raise ValueError("设置了 margin 就要给出 unlike（对照例句）")
        return self


class Condition(BaseModel):
    """One test; every field that is set must hold (a list field holds when any entry matches)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)
    terms: list[str] = Field(default_factory=list)
    region_in: list[str] = Field(default_factory=list)
    region_not_in: list[str] = Field(default_factory=list)
    category_in: list[str] = Field(default_factory=list)
    similar_to: SimilarTo | None = None

    _patterns: list[re.Pattern[str]] = PrivateAttr(default_factory=list)

    @field_validator(
        "keywords", "regex", "terms", "region_in", "region_not_in", "category_in", mode="before"
    )
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("keywords", "terms")
    @classmethod
    def _normalise_words(cls, value: list[str]) -> list[str]:
        words = [normalize(v) for v in value]
        if any(not w for w in words):
            raise ValueError("关键词不能为空字符串")
        return words

    @model_validator(mode="after")
    def _compile(self) -> Condition:
        if not any(getattr(self, name) for name in _CONDITION_FIELDS):
            raise ValueError(
                "条件为空：至少要有 keywords、regex、terms、地区、类别或 similar_to 之一"
            )
        patterns = []
        for pattern in self.regex:
            try:
                patterns.append(re.compile(pattern))
            except re.error as exc:
                raise ValueError(f"正则表达式“{pattern}”无效：{exc}") from exc
        self._patterns = patterns
        return self

    def holds(self, ctx: _Context, text: str) -> bool:
        """True when every test this condition sets holds for the (masked) text and the item."""
        if self.keywords and not any(k in text for k in self.keywords):
            return False
        if self._patterns and not any(p.search(text) for p in self._patterns):
            return False
        if self.terms:
            tokens = ctx.tokens(text)
            if tokens is None:  # no tokenizer given: degrade to substring (favours recall)
                if not any(t in text for t in self.terms):
                    return False
            elif not any(t in tokens for t in self.terms):
                return False
        region = normalize(ctx.item.region or "")
        if self.region_in and not (region and any(normalize(r) in region for r in self.region_in)):
            return False
        if self.region_not_in and (
            not region or any(normalize(r) in region for r in self.region_not_in)
        ):
            return False
        if self.category_in and ctx.item.category not in self.category_in:
            return False
        if self.similar_to is not None:
            score = ctx.similarity_to(self.similar_to.examples)
            if score is None or score < self.similar_to.threshold:
                return False
            if self.similar_to.unlike:
                contrast = ctx.similarity_to(self.similar_to.unlike)
                if contrast is None or score - contrast < self.similar_to.margin:
                    return False
        return True


class Rule(BaseModel):
    """One routing rule: conditions, false-positive guards and the outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
    priority: int = 0
    action: Action
    description: str = ""
    all: list[Condition] = Field(default_factory=list)
    any: list[Condition] = Field(default_factory=list)
    # Phrases blanked out before matching: "消防通道" does not count as "消防", but a real "着火"
    # elsewhere in the same sentence still fires.
    unless: list[str] = Field(default_factory=list)
    # Veto words: the rule never fires when one of these is in the text.
    negate: list[str] = Field(default_factory=list)
    divert_to: str | None = None
    say: str | None = None
    reason: str | None = None
    channel: str | None = None
    ticket_type: TicketType | None = None
    department: str | None = None
    complex: bool = False

    @model_validator(mode="before")
    @classmethod
    def _inline_condition(cls, data: Any) -> Any:
        # Condition fields written directly on the rule form one more `all` condition.
        if isinstance(data, Mapping):
            inline = {k: data[k] for k in _CONDITION_FIELDS if k in data}
            if inline:
                data = {k: v for k, v in data.items() if k not in inline}
                data["all"] = [*(data.get("all") or []), inline]
        return data

    @field_validator("unless", "negate", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("unless", "negate")
    @classmethod
    def _normalise_words(cls, value: list[str]) -> list[str]:
        words = [normalize(v) for v in value]
        if any(not w for w in words):
            raise ValueError("unless/negate 中不能有空字符串")
        # Longest first so a longer guard phrase is blanked before a shorter one inside it.
        return sorted(words, key=len, reverse=True)

    @field_validator("divert_to", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _outcome_fits_action(self) -> Rule:
        if not self.all and not self.any:
            raise ValueError("没有任何匹配条件")
        a = self.action
        if a is Action.DIVERT:
            if not self.divert_to:
                raise ValueError("转接规则缺少 divert_to（应为 110、119、120 或 122）")
            if self.divert_to not in EMERGENCY_NUMBERS:
                raise ValueError(f"divert_to“{self.divert_to}”不是紧急热线号码（110/119/120/122）")
            if not self.say:
                raise ValueError("转接规则缺少 say（转接时对来电人说的话）")
        elif self.divert_to:
            raise ValueError("只有转接规则（divert）才能设置 divert_to")
        if a is Action.REJECT:
            if not self.reason:
                raise ValueError("不予受理规则缺少 reason（向来电人说明的理由）")
            if not self.channel:
                raise ValueError("不予受理规则缺少 channel（可以反映的渠道）")
        elif self.reason or self.channel:
            raise ValueError("只有不予受理规则（reject）才能设置 reason 和 channel")
        if a is Action.ANSWER and not self.say:
            raise ValueError("答复规则缺少 say（答复口径）")
        if a is Action.TICKET:
            if self.ticket_type is None and self.department is None:
                raise ValueError("工单规则至少要设置 ticket_type 或 department 之一")
        elif self.ticket_type is not None or self.department is not None or self.complex:
            raise ValueError("只有工单规则（ticket）才能设置 ticket_type、department 或 complex")
        return self

    def closeness(self, ctx: _Context) -> float:
        """How close the text is to this rule's `similar_to` examples (1.0 without any)."""
        scores = [
            ctx.similarity_to(c.similar_to.examples)
            for c in (*self.all, *self.any)
            if c.similar_to is not None
        ]
        known = [x for x in scores if x is not None]
        return max(known) if known else 1.0

    def matches(self, ctx: _Context) -> bool:
        """True when no veto word is present and the conditions hold on the guarded text."""
        if any(w in ctx.text for w in self.negate):
            return False
        text = ctx.text
        for phrase in self.unless:
            text = text.replace(phrase, "\u3000")  # a separator nobody's keyword contains
        if not all(c.holds(ctx, text) for c in self.all):
            return False
        return not self.any or any(c.holds(ctx, text) for c in self.any)


_ACTION_LABELS = "divert、reject、answer 或 ticket"
_TICKET_TYPES = "、".join(t.value for t in TicketType)


def _explain(err: Mapping[str, Any]) -> str:
    """Chinese wording for one pydantic error of a rule."""
    loc = ".".join(str(p) for p in err.get("loc", ()))
    kind = err.get("type", "")
    given = err.get("input")
    if kind == "missing":
        return f"缺少字段 {loc}"
    if kind == "extra_forbidden":
        return f"未知字段 {loc}"
    if loc == "action" and kind == "enum":
        return f"未知的处置方式“{given}”（应为 {_ACTION_LABELS}）"
    if loc == "ticket_type" and kind == "enum":
        return f"未知的工单类型“{given}”（应为 {_TICKET_TYPES}）"
    if loc == "id":
        return "规则编号只能用小写字母、数字、点、下划线和连字符"
    if kind == "value_error":
        message = str(err.get("msg", ""))
        return message.removeprefix("Value error, ")
    return f"字段 {loc or '规则'} 取值无效"


class RuleSet(BaseModel):
    """A versioned set of routing rules, plus the service-name routing table it was loaded with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    default_department: str = "hotline"
    default_ticket_type: TicketType = TicketType.CONSULTATION
    rules: list[Rule]

    _routes: ServiceRoutes | None = PrivateAttr(default=None)
    _departments: dict[str, str] = PrivateAttr(default_factory=dict)
    _limits: TimeLimits = PrivateAttr(default_factory=TimeLimits)

    @classmethod
    def load(
        cls,
        source: str | Path,
        *,
        departments: Mapping[str, str] | None = None,
        service_routes: ServiceRoutes | Mapping[str, str] | None = None,
        limits: TimeLimits | None = None,
    ) -> RuleSet:
        """Parse and validate a rules file (path or YAML text); errors raise `rules_invalid`."""
        text = _read_source(source)
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise _invalid(f"规则文件不是有效的 YAML：{exc}") from exc
        if not isinstance(raw, Mapping):
            raise _invalid("规则文件顶层应为映射，包含 version 和 rules")
        known = dict(departments) if departments is not None else bundled_departments()
        problems = _check_top(raw, known)
        rules: list[Rule] = []
        seen: set[str] = set()
        for pos, item in enumerate(raw.get("rules") or [], start=1):
            rid = str(item.get("id")) if isinstance(item, Mapping) and item.get("id") else None
            label = f"规则 {rid}" if rid else f"第 {pos} 条规则"
            if not isinstance(item, Mapping):
                problems.append(f"{label}：应为映射")
                continue
            try:
                rule = Rule.model_validate(item)
            except ValidationError as exc:
                problems.extend(f"{label}：{_explain(e)}" for e in exc.errors())
                continue
            if rule.id in seen:
                problems.append(f"{label}：规则编号重复")
            seen.add(rule.id)
            if rule.department is not None and rule.department not in known:
                problems.append(f"{label}：未知的部门代码“{rule.department}”")
            rules.append(rule)
        if problems:
            raise _invalid("；".join(problems), problems=problems)
        top = {k: v for k, v in raw.items() if k in RuleSet.model_fields and k != "rules"}
        ruleset = cls.model_validate({**top, "rules": []}).model_copy(update={"rules": rules})
        if service_routes is None:
            routes = ServiceRoutes.bundled()
        elif isinstance(service_routes, ServiceRoutes):
            routes = service_routes
        else:
            routes = ServiceRoutes(service_routes)
        ruleset._routes = routes
        ruleset._departments = known
        ruleset._limits = limits or TimeLimits()
        return ruleset

    @classmethod
    def default(cls) -> RuleSet:
        """The bundled default rules (`kb_service/data/routing_rules.yaml`)."""
        return cls.load(_data_text("routing_rules.yaml"))

    @property
    def service_routes(self) -> ServiceRoutes:
        """The service-name routing table used as a department signal."""
        return self._routes if self._routes is not None else ServiceRoutes.bundled()

    @property
    def limits(self) -> TimeLimits:
        """The time-limit table tickets are dated with."""
        return self._limits

    def department_name(self, code: str) -> str:
        """Chinese name of a department code (the code itself when unknown)."""
        return (self._departments or bundled_departments()).get(code, code)

    def by_action(self, action: Action) -> list[Rule]:
        """Rules of one action, highest priority first (file order breaks ties)."""
        chosen = [r for r in self.rules if r.action is action]
        return sorted(chosen, key=lambda r: -r.priority)


def _check_top(raw: Mapping[str, Any], known: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    allowed = {"version", "default_department", "default_ticket_type", "rules"}
    # `x-` keys hold YAML anchors (shared word lists) and are otherwise ignored.
    problems.extend(
        f"未知的顶层字段 {k}" for k in raw if k not in allowed and not str(k).startswith("x-")
    )
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append("version 应为正整数")
    if not isinstance(raw.get("rules"), list) or not raw.get("rules"):
        problems.append("rules 应为非空列表")
    dept = raw.get("default_department", "hotline")
    if dept not in known:
        problems.append(f"未知的默认部门代码“{dept}”")
    kind = raw.get("default_ticket_type", TicketType.CONSULTATION.value)
    if kind not in {t.value for t in TicketType}:
        problems.append(f"未知的默认工单类型“{kind}”（应为 {_TICKET_TYPES}）")
    return problems


def _invalid(detail: str, **extra: Any) -> Invalid:
    return Invalid("rules_invalid", f"路由规则有误：{detail}", **extra)


def _read_source(source: str | Path) -> str:
    if isinstance(source, Path):
        return source.read_text(encoding="utf-8")
    if "\n" not in source and source.endswith((".yaml", ".yml")):
        path = Path(source)
        if not path.is_file():
            raise _invalid(f"找不到规则文件 {source}")
        return path.read_text(encoding="utf-8")
    return source


def _data_text(name: str) -> str:
    return resources.files("kb_service").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _bundled_departments() -> tuple[tuple[str, str], ...]:
    rows = json.loads(_data_text("departments.json"))
    return tuple((row["code"], row["name"]) for row in rows)


def bundled_departments() -> dict[str, str]:
    """Department code → name from the bundled `departments.json`."""
    return dict(_bundled_departments())


# ---------------------------------------------------------------------------------------------
# Service-name routing table
# ---------------------------------------------------------------------------------------------

# Words every administrative service name shares; overlap on them says nothing about the topic.
_GENERIC_WORDS = """
    办理 申请 申报 登记 审批 审核 核准 许可 备案 变更 注销 延续 换发 补发 证书 证明 确认
    事项 服务 管理 行政 单位 个人 人员 机构 企业 设立 年度 相关 有关 其他 以及 的 和 与 及
"""
_GENERIC = frozenset(normalize(w) for w in _GENERIC_WORDS.split())


class ServiceRoutes:
    """Service name → department code, matched against intake text by substring or overlap."""

    min_score = 0.6  # share of a name's distinctive characters that must appear in the text

    def __init__(self, routes: Mapping[str, str]) -> None:
        self.routes = dict(routes)
        self._names = [(normalize(name), name) for name in self.routes]
        self._grams: dict[str, list[int]] = {}
        self._weights: list[int] = []
        for idx, (norm, _) in enumerate(self._names):
            grams = _bigrams(norm)
            self._weights.append(len(grams))
            for gram in grams:
                self._grams.setdefault(gram, []).append(idx)

    @classmethod
    def bundled(cls) -> ServiceRoutes:
        """The committed table `kb_service/data/service_routes.json` (cached)."""
        return _bundled_routes()

    def __len__(self) -> int:
        return len(self.routes)

    def match(self, text: str, *, tokenize: Tokenize | None = None) -> tuple[str, float] | None:
        """Best service name for the text and its score in (0, 1]; None when nothing is close."""
        norm = normalize(text)
        if not norm or not self._names:
            return None
        if tokenize is not None:
            candidates = self._token_scores(norm, tokenize)
        else:
            candidates = self._gram_scores(norm)
        best: tuple[float, int, int, int] | None = None
        for idx, score in candidates.items():
            name = self._names[idx][0]
            # Equal scores: the longest verbatim name, else the shortest (least unexplained) name.
            exact = len(name) if name in norm else 0
            key = (score, exact, -len(name), -idx)
            if score >= self.min_score and (best is None or key > best):
                best = key
        if best is None:
            return None
        return self._names[-best[3]][1], round(best[0], 3)

    def _gram_scores(self, norm: str) -> dict[int, float]:
        text_grams = _bigrams(norm)
        hits: dict[int, int] = {}
        for gram in text_grams:
            for idx in self._grams.get(gram, ()):
                hits[idx] = hits.get(idx, 0) + 1
        scores: dict[int, float] = {}
        for idx, count in hits.items():
            name = self._names[idx][0]
            if len(name) >= 4 and name in norm:
                scores[idx] = 1.0
            elif count >= 2 and self._weights[idx]:
                scores[idx] = count / self._weights[idx]
        return scores

    def _token_scores(self, norm: str, tokenize: Tokenize) -> dict[int, float]:
        text_tokens = {normalize(t) for t in tokenize(norm)} - _GENERIC
        scores: dict[int, float] = {}
        for idx in self._gram_scores(norm):  # bigram index narrows the candidates
            name = self._names[idx][0]
            if len(name) >= 4 and name in norm:
                scores[idx] = 1.0
                continue
            name_tokens = {normalize(t) for t in tokenize(name)} - _GENERIC
            name_tokens = {t for t in name_tokens if len(t) >= 2}
            if not name_tokens:
                continue
            shared = name_tokens & text_tokens
            size = sum(len(t) for t in name_tokens)
            if sum(len(t) for t in shared) >= 4:
                scores[idx] = sum(len(t) for t in shared) / size
        return scores


def _bigrams(norm: str) -> set[str]:
    grams = {norm[i : i + 2] for i in range(len(norm) - 1)}
    return {g for g in grams if g not in _GENERIC and not g.isascii()}


@lru_cache(maxsize=1)
def _bundled_routes() -> ServiceRoutes:
    return ServiceRoutes(json.loads(_data_text("service_routes.json")))


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------


class IntakeItem(BaseModel):
    """What the caller said, where and when: the input of one routing decision."""

    model_config = ConfigDict(frozen=True)

    text: str
    channel: str = "phone"
    region: str | None = None
    at: datetime
    category: str | None = None
    complex: bool = False

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("受理时间必须带时区")
        return value


class TicketPlan(BaseModel):
    """The ticket a request becomes: type, responsible department and statutory deadline."""

    model_config = ConfigDict(frozen=True)

    type: TicketType
    department: str
    department_name: str
    department_source: DepartmentSource
    due: datetime
    limit_workdays: int
    complex: bool = False
    form_by: datetime
    type_rule_id: str | None = None
    department_rule_id: str | None = None
    service_name: str | None = None


class Decision(BaseModel):
    """Outcome of routing one request; `rule_id` names the rule that decided it."""

    model_config = ConfigDict(frozen=True)

    action: Action
    rule_id: str | None = None
    divert_to: str | None = None
    say: str | None = None
    reason: str | None = None
    channel: str | None = None
    ticket: TicketPlan | None = None

    def key(self) -> tuple[Any, ...]:
        """The parts that matter when comparing two decisions (dates excluded)."""
        t = self.ticket
        return (
            self.action,
            self.rule_id,
            self.divert_to,
            self.reason,
            self.channel,
            t.type if t else None,
            t.department if t else None,
        )


@dataclass
class _Context:
    item: IntakeItem
    text: str
    similarity: Similarity | None
    tokenize: Tokenize | None
    _tokens: dict[str, frozenset[str]] = field(default_factory=dict)
    _similar: dict[tuple[str, ...], float | None] = field(default_factory=dict)

    def similarity_to(self, examples: Sequence[str]) -> float | None:
        """Best similarity of the item's text to `examples` (None without an encoder)."""
        if self.similarity is None:
            return None
        key = tuple(examples)
        if key not in self._similar:
            self._similar[key] = self.similarity(self.item.text, examples)
        return self._similar[key]

    def tokens(self, text: str) -> frozenset[str] | None:
        if self.tokenize is None:
            return None
        if text not in self._tokens:
            self._tokens[text] = frozenset(normalize(t) for t in self.tokenize(text))
        return self._tokens[text]


def _first(rules: Iterable[Rule], ctx: _Context) -> Rule | None:
    """The first matching rule by priority; among equal priorities, the closest `similar_to`.

    Rules of one priority that decide by example sentences (one per emergency number, say)
    compete on how close the text is to each one's examples; file order breaks exact ties.
    """
    ordered = list(rules)
    for n, rule in enumerate(ordered):
        if not rule.matches(ctx):
            continue
        peers = [r for r in ordered[n + 1 :] if r.priority == rule.priority and r.matches(ctx)]
        if not peers:
            return rule
        return max([rule, *peers], key=lambda r: r.closeness(ctx))  # max keeps the first on ties
    return None


def decide(
    item: IntakeItem,
    *,
    rules: RuleSet,
    answerable: bool,
    similarity: Similarity | None = None,
    tokenize: Tokenize | None = None,
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
) -> Decision:
    """Route one request: divert, reject, answer or ticket (type, department, due date)."""
    ctx = _Context(item=item, text=normalize(item.text), similarity=similarity, tokenize=tokenize)
    divert = _first(rules.by_action(Action.DIVERT), ctx)
    if divert is not None:
        return Decision(
            action=Action.DIVERT, rule_id=divert.id, divert_to=divert.divert_to, say=divert.say
        )
    reject = _first(rules.by_action(Action.REJECT), ctx)
    if reject is not None:
        return Decision(
            action=Action.REJECT,
            rule_id=reject.id,
            reason=reject.reason,
            channel=reject.channel,
            say=f"{reject.reason}建议您{reject.channel}",
        )
    scripted = _first(rules.by_action(Action.ANSWER), ctx)
    if scripted is not None:
        return Decision(action=Action.ANSWER, rule_id=scripted.id, say=scripted.say)
    if answerable and _ticket_type(ctx, rules)[1] == TicketType.CONSULTATION:
        # 第二十四条: the knowledge base answers general consultations; a complaint, report,
        # request for help or suggestion still goes to the department even if an entry fits.
        return Decision(action=Action.ANSWER)
    return _ticket(ctx, rules=rules, now=now, calendar=calendar)


def _ticket_type(ctx: _Context, rules: RuleSet) -> tuple[Rule | None, TicketType]:
    ticket_rules = rules.by_action(Action.TICKET)
    type_rule = _first((r for r in ticket_rules if r.ticket_type is not None), ctx)
    kind = type_rule.ticket_type if type_rule and type_rule.ticket_type else None
    return type_rule, kind or rules.default_ticket_type


def _ticket(
    ctx: _Context, *, rules: RuleSet, now: datetime | None, calendar: WorkCalendar | None
) -> Decision:
    ticket_rules = rules.by_action(Action.TICKET)
    type_rule, kind = _ticket_type(ctx, rules)
    dept_rule = _first((r for r in ticket_rules if r.department is not None), ctx)
    service: tuple[str, float] | None = None
    if dept_rule is not None and dept_rule.department is not None:
        department, source = dept_rule.department, DepartmentSource.RULE
    else:
        service = rules.service_routes.match(ctx.item.text, tokenize=ctx.tokenize)
        if service is not None:
            department = rules.service_routes.routes[service[0]]
            source = DepartmentSource.SERVICE_ROUTE
        else:
            department, source = rules.default_department, DepartmentSource.DEFAULT
    complex_ = ctx.item.complex or any(r.complex for r in (type_rule, dept_rule) if r is not None)
    start = now or ctx.item.at
    if start.tzinfo is None or start.utcoffset() is None:
        raise Invalid("naive_datetime", "时间必须带时区")
    limit = rules.limits.workdays(kind, complex=complex_)
    due = timelimits.due(kind, start, complex=complex_, calendar=calendar, limits=rules.limits)
    name = rules.department_name(department)
    plan = TicketPlan(
        type=kind,
        department=department,
        department_name=name,
        department_source=source,
        due=due,
        limit_workdays=limit,
        complex=complex_,
        form_by=timelimits.ticket_form_deadline(ctx.item.at, limits=rules.limits),
        type_rule_id=type_rule.id if type_rule else None,
        department_rule_id=dept_rule.id if dept_rule else None,
        service_name=service[0] if service else None,
    )
    say = (
        f"您反映的问题已登记为{TICKET_TYPE_LABELS[kind]}工单，转{name}办理，"
        f"承办单位将在{limit}个工作日内答复。"
    )
    rule_id = dept_rule.id if dept_rule else None
    return Decision(action=Action.TICKET, rule_id=rule_id, say=say, ticket=plan)


class DryRunRow(NamedTuple):
    """One item whose decision a rules change would alter."""

    item: IntakeItem
    old: Decision
    new: Decision


def dry_run(
    rules: RuleSet,
    items: Sequence[tuple[IntakeItem, Decision] | IntakeItem],
    *,
    baseline: RuleSet | None = None,
    answerable: bool = False,
    similarity: Similarity | None = None,
    tokenize: Tokenize | None = None,
    calendar: WorkCalendar | None = None,
    changed_only: bool = True,
) -> list[DryRunRow]:
    """Replay items under candidate `rules`; old decisions are recorded or come from `baseline`."""
    rows: list[DryRunRow] = []
    for entry in items:
        if isinstance(entry, IntakeItem):
            if baseline is None:
                raise Invalid("baseline_required", "条目未附带原处理结果时，必须提供当前规则作对照")
            item = entry
            old = decide(
                item,
                rules=baseline,
                answerable=answerable,
                similarity=similarity,
                tokenize=tokenize,
                calendar=calendar,
            )
        else:
            item, old = entry
        new = decide(
            item,
            rules=rules,
            answerable=answerable,
            similarity=similarity,
            tokenize=tokenize,
            calendar=calendar,
        )
        if not changed_only or old.key() != new.key():
            rows.append(DryRunRow(item, old, new))
    return rows
