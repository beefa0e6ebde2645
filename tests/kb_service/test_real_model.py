"""The whole retrieval path with the real bundled model (loaded once per session).

Reads the real corpus from ../shared/corpus (tests may; the product never does).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from ingestion.pipeline import ingest_paths
from kb_service import bootstrap, suggestions
from kb_service.config import Settings
from kb_service.db import session_scope
from kb_service.principals import SYSTEM
from kb_service.search import SearchService
from kb_service.suggestions import Calibration

pytestmark = pytest.mark.model
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
REPO = Path(__file__).resolve().parents[2]
# The shipped default, calibrated by `make eval`.
CAL = Calibration(threshold=Settings.model_fields["answer_threshold"].default)


@pytest.fixture
def kb(seeded, real_encoder, tmp_path):
    """Demo KB plus (when present) the real gazette, indexed with the real model."""
    with session_scope(seeded) as s:
        bootstrap.load_demo(s)
        if CORPUS.exists():
            ingest_paths(s, actor=SYSTEM, paths=[CORPUS])
    svc = SearchService(engine=seeded, encoder=real_encoder, index_dir=tmp_path / "idx")
    svc.open(show_progress=False)
    yield svc
    svc.close()


def _ask(engine, svc, text, **kw):
    with Session(engine) as s:
        return suggestions.suggest(s, search=svc, calibration=CAL, text=text, record=False, **kw)


def test_colloquial_question_finds_the_right_answer_script_and_is_answerable(seeded, kb):
    # a paraphrase of demo-timelimit-001 that shares none of its similar questions
    out = _ask(seeded, kb, "我想咨询个政策问题，大概要等几天才有人答复我")
    assert out["answerable"] is True
    top = [r for r in out["results"] if r["kind"] == "entry"][:3]
    assert any("2个工作日" in r["text"].replace(" ", "") for r in top), [r["title"] for r in top]


def test_out_of_domain_chatter_is_not_answerable(seeded, kb):
    out = _ask(seeded, kb, "周杰伦的新歌叫什么名字")
    assert out["answerable"] is False


@pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is not present")
def test_policy_article_is_cited_with_its_locator(seeded, kb):
    out = _ask(seeded, kb, "不满意处理结果，重新办理最多多少个工作日", k=10)
    passages = [r for r in out["results"] if r["kind"] == "passage"]
    assert any(
        r["source"]["doc_no"] == "青政办〔2022〕57号"
        and r["source"]["locator"].startswith("第十四条")
        for r in passages
    )


def _kb(env, *args, stdin=None, timeout=600):
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "kb"), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=env["HOME_DIR"],
    )


@pytest.fixture
def cli_env(tmp_path, bundled_model_dir):
    env = {
        **os.environ,
        "KB_DATA_DIR": str(tmp_path / "var"),
        "HF_HUB_OFFLINE": "1",
        "KB_EMBEDDING_MODEL": str(bundled_model_dir),
        "HOME_DIR": str(tmp_path),
    }
    env.pop("KB_DATABASE_URL", None)
    return env


def test_cli_search_and_route_read_queries_from_stdin(cli_env):
    assert _kb(cli_env, "init").returncode == 0
    r = _kb(
        cli_env,
        "search",
        "-",
        "--json",
        "-k",
        "3",
        stdin="咨询工单多久答复\n医保电子凭证怎么激活\n",
    )
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [row["query"] for row in rows] == ["咨询工单多久答复", "医保电子凭证怎么激活"]
    assert all(len(row["results"]) == 3 and "answerable" in row for row in rows)
    r = _kb(
        cli_env,
        "route",
        "-",
        "--json",
        "--at",
        "2026-09-30T10:00:00+08:00",
        stdin="楼下着火了快来人\n我要投诉小区门口餐馆油烟扰民\n",
    )
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert rows[0]["action"] == "divert" and rows[0]["divert_to"] == "119"
    assert rows[1]["action"] == "ticket" and rows[1]["ticket"]["type"] == "complaint"
    # 10 working days from Wed 9-30: 10-8, 10-9, Sat 10-10 (调休), 10-12 … 10-20
    assert rows[1]["ticket"]["due"].startswith("2026-10-20")


def test_kill_9_during_indexing_then_restart_and_doctor_agrees(cli_env, tmp_path):
    assert _kb(cli_env, "init").returncode == 0  # demo KB in the database, no index yet
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "kb"), "reindex"],
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Kill once it is embedding (the progress bar has started), or after a bounded wait.
    deadline = time.monotonic() + 120
    buf = ""
    while time.monotonic() < deadline and proc.poll() is None:
        line = proc.stderr.readline() if proc.stderr else ""
        buf += line
        if "建立索引" in buf or "条/s" in buf:
            break
    time.sleep(1.0)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    r = _kb(cli_env, "doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["ok"] is True


# --- routing by example sentences with the real model -----------------------------------------


@pytest.fixture(scope="module")
def semantic_routing(real_encoder):
    from kb_service.intake import make_similarity, warm_up_similarity
    from kb_service.routing import RuleSet

    rules = RuleSet.default()
    similarity = make_similarity(real_encoder.encode_queries)
    assert warm_up_similarity(rules, similarity) == 8  # four example lists, four contrast lists
    return rules, similarity


def _decide(rules, similarity, text):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from kb_service.routing import IntakeItem, decide

    at = datetime(2026, 9, 24, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    item = IntakeItem(text=text, region="西宁市", at=at)
    return decide(item, rules=rules, answerable=False, similarity=similarity)


def test_an_emergency_no_keyword_names_is_diverted_by_its_examples(semantic_routing) -> None:
    rules, similarity = semantic_routing
    text = "孩子把一整瓶药都吃下去了"  # no keyword rule fires on this
    assert _decide(rules, None, text).action == "ticket"
    decision = _decide(rules, similarity, text)
    assert (decision.action, decision.divert_to) == ("divert", "120")
    assert decision.rule_id == "divert-120-similar" and decision.say


@pytest.mark.parametrize(
    "text", ["我想问问小区消防设施多久检查一次", "医院的急诊收费太贵了我要反映"]
)
def test_calm_questions_near_emergencies_are_not_diverted(semantic_routing, text) -> None:
    rules, similarity = semantic_routing
    assert _decide(rules, similarity, text).action != "divert"


# --- knowledge-gap clusters with the real model -----------------------------------------------


def test_gap_clusters_group_paraphrases_and_keep_unrelated_apart(seeded, real_encoder) -> None:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from kb_service import metrics
    from kb_service.models import IntakeLog

    texts = [
        "医保卡在外地看病怎么报销",
        "公积金怎么提取出来",
        "异地就医医保怎么结算",
        "租房可以提取公积金吗",
        "在外省住院医保能报销吗",
        "公积金提取要什么材料",
        "12345晚上有人接电话吗",
        "小区门口的路灯坏了好久",
        "孩子上小学怎么报名",
    ]
    sh = ZoneInfo("Asia/Shanghai")
    with Session(seeded) as s:
        for n, text in enumerate(texts):
            s.add(
                IntakeLog(
                    at=datetime(2026, 10, 12, 9, n, tzinfo=sh),
                    text=text,
                    action="ticket",
                    decision={"answerable": False},
                )
            )
        s.commit()
        found = metrics.gaps(
            s, start=date(2026, 10, 1), end=date(2026, 10, 31), encode=real_encoder.encode_queries
        )
    groups = sorted(sorted(g["examples"]) for g in found if g["size"] > 1)
    assert groups == [
        sorted(["公积金怎么提取出来", "租房可以提取公积金吗", "公积金提取要什么材料"]),
        sorted(["医保卡在外地看病怎么报销", "异地就医医保怎么结算", "在外省住院医保能报销吗"]),
    ]
    assert sorted(g["size"] for g in found) == [1, 1, 1, 3, 3]
