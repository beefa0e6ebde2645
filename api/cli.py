"""The `kb` command line: init, serve, tokens, entry import/export (and more as issues land)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from kb_service.config import Settings
from kb_service.db import session_scope
from kb_service.errors import KBError
from kb_service.runtime import Runtime

os.environ.setdefault("HF_HUB_OFFLINE", "1")

app = typer.Typer(help="12345 热线知识库服务命令行", no_args_is_help=True, add_completion=False)
token_app = typer.Typer(help="访问令牌", no_args_is_help=True)
entries_app = typer.Typer(help="知识条目导入导出", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(entries_app, name="entries")


def _runtime() -> Runtime:
    return Runtime.create(Settings())


@contextmanager
def _running() -> Iterator[Runtime]:
    """A runtime for one command: a KBError becomes a JSON error and exit 2; always closed."""
    rt = _runtime()
    try:
        yield rt
    except KBError as exc:
        _fail(exc)
    finally:
        rt.close()


def _fail(exc: KBError) -> None:
    typer.echo(json.dumps({"error": exc.code, "detail": exc.message}, ensure_ascii=False), err=True)
    raise typer.Exit(2)


def init_runtime(rt: Runtime, *, demo: bool) -> dict[str, object]:
    """Migrate, seed departments and (optionally) the demo knowledge base and demo tokens."""
    from kb_service import bootstrap

    with session_scope(rt.engine) as session:
        report: dict[str, object] = {"departments": bootstrap.seed_departments(session)}
        if demo:
            report["demo_entries"] = bootstrap.load_demo(session)
            tokens = bootstrap.ensure_demo_tokens(
                session, path=rt.settings.data_dir / "demo-tokens.json"
            )
            report["demo_tokens_file"] = str(rt.settings.data_dir / "demo-tokens.json")
            report["new_demo_tokens"] = bool(tokens)
    return report


@app.command()
def init(
    demo: Annotated[bool, typer.Option(help="同时载入演示知识库和演示令牌")] = True,
) -> None:
    """创建/迁移数据库，载入单位表（和演示知识库）。重复执行不会产生重复数据。"""
    with _running() as rt:
        report = init_runtime(rt, demo=demo)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口")] = None,
    demo: Annotated[bool, typer.Option(help="启动前载入演示知识库")] = True,
    ingest_paths: Annotated[
        list[Path] | None, typer.Option("--ingest", help="启动前导入的政策文件或目录（可重复）")
    ] = None,
) -> None:
    """初始化数据库（可先导入政策文件）并启动 API 服务；模型和索引在开始服务前就绪。"""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    rt = Runtime.create(settings)
    report = init_runtime(rt, demo=demo and settings.load_demo)
    if ingest_paths:
        from ingestion.pipeline import ingest_paths as ingest_files
        from kb_service.principals import SYSTEM

        with session_scope(rt.engine) as session:
            ingested = ingest_files(session, actor=SYSTEM, paths=ingest_paths, progress=True)
        report["ingested"] = {k: v for k, v in ingested.as_dict()["counts"].items() if v} | {
            "unchanged": sum(1 for d in ingested.documents if d["outcome"] == "unchanged")
        }
    base = f"http://{host}:{port}"
    typer.echo(f"数据库：{settings.db_url}")
    typer.echo(f"初始化：{json.dumps(report, ensure_ascii=False)}")
    typer.echo(f"API 文档（Swagger）：{base}/docs")
    typer.echo(f"API 文档（ReDoc）：  {base}/redoc")
    typer.echo(f"OpenAPI：           {base}/openapi.json")
    if settings.load_demo and demo:
        typer.echo(f"演示令牌：{settings.data_dir / 'demo-tokens.json'}")
    sys.stdout.flush()
    uvicorn.run(create_app(settings, runtime=rt), host=host, port=port, log_level="info")
    rt.close()


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="operator | editor | reviewer | manager | admin")],
    name: Annotated[str, typer.Option(help="使用人或系统名称")] = "",
    department: Annotated[str | None, typer.Option(help="单位编码（编辑/审核员必填）")] = None,
    label: Annotated[str | None, typer.Option(help="备注")] = None,
) -> None:
    """创建用户和访问令牌；令牌只显示这一次。"""
    from kb_service import auth

    with _running() as rt, session_scope(rt.engine) as session:
        user, token = auth.create_token(
            session,
            name=name or f"{role}-{department or 'global'}",
            role=role,
            department_code=department,
            label=label,
        )
        out = {"user_id": user.id, "role": role, "department": department, "token": token}
    typer.echo(json.dumps(out, ensure_ascii=False))


@entries_app.command("import")
def entries_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL/CSV/XLSX")],
    department: Annotated[str | None, typer.Option(help="所有行归属的单位（编码或名称）")] = None,
) -> None:
    """导入知识条目（JSONL 或 FAQ 表格），报告接受和拒绝的行及原因。"""
    from ingestion.entries_io import import_file
    from kb_service.principals import SYSTEM

    with _running() as rt, session_scope(rt.engine) as session:
        from kb_service import bootstrap

        bootstrap.seed_departments(session)
        report = import_file(session, actor=SYSTEM, path=file, department=department)
    typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    if report.rejected:
        raise typer.Exit(1)


@entries_app.command("export")
def entries_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="输出文件（默认标准输出）")
    ] = None,
) -> None:
    """导出全部知识条目为 JSONL（可重新导入得到相同状态）。"""
    from ingestion.entries_io import export_entries

    rt = _runtime()
    try:
        with session_scope(rt.engine) as session:
            lines = [
                json.dumps(o, ensure_ascii=False, default=str) for o in export_entries(session)
            ]
    finally:
        rt.close()
    text = "\n".join(lines) + ("\n" if lines else "")
    if output:
        output.write_text(text, "utf-8")
    else:
        sys.stdout.write(text)


def _inputs(arg: str) -> Iterator[str]:
    """The argument itself, or with "-" each non-empty line of standard input."""
    for line in sys.stdin if arg == "-" else [arg]:
        if line.strip():
            yield line.strip()


def _print_json(obj: object, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(obj, ensure_ascii=False, default=str))
    else:
        typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="文件或目录：txt/md/docx/pdf/xlsx/csv/jsonl")],
    department: Annotated[str | None, typer.Option(help="这些文件所属单位（编码或名称）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出单行 JSON 报告")] = False,
    index: Annotated[bool, typer.Option(help="导入后立即更新检索索引（含向量化）")] = True,
) -> None:
    """导入政策文件：切分为文件、条款段落，识别新版本；报告接受和拒绝的输入。"""
    from ingestion.pipeline import ingest_paths
    from kb_service import bootstrap
    from kb_service.principals import SYSTEM

    with _running() as rt:
        with session_scope(rt.engine) as session:
            bootstrap.seed_departments(session)
            report = ingest_paths(
                session, actor=SYSTEM, paths=paths, department=department, progress=not as_json
            )
        if index:
            rt.search(show_progress=not as_json)
    _print_json(report.as_dict(), as_json=as_json)
    if report.rejected:
        raise typer.Exit(1)


@app.command("documents")
def documents_list(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """列出政策文件：文档编号、文号、标题、发布日期、版本数、状态。"""
    from kb_service import documents

    rt = _runtime()
    try:
        with session_scope(rt.engine) as session:
            docs = documents.list_documents(session)
    finally:
        rt.close()
    if as_json:
        typer.echo(json.dumps(docs, ensure_ascii=False))
        return
    for d in docs:
        typer.echo(
            f"{d['doc_id']}\t{d['doc_no'] or '-'}\t{d['issued'] or '-'}\t"
            f"v{d['versions']}\t{d['status_label']}\t{d['title']}"
        )


@app.command()
def repeal(
    doc_id: Annotated[str, typer.Argument(help="文档编号（doc_id 或文号）")],
    superseded_by: Annotated[str | None, typer.Option(help="替代它的新文件")] = None,
    reason: Annotated[str | None, typer.Option(help="原因")] = None,
) -> None:
    """将文件标记为废止（或被新文件替代）：其条款不再推荐，引用它的条目标记待复核。"""
    from kb_service import documents
    from kb_service.principals import SYSTEM

    with _running() as rt:
        with session_scope(rt.engine) as session:
            doc = documents.repeal(
                session, actor=SYSTEM, doc_id=doc_id, superseded_by=superseded_by, reason=reason
            )
            out = {"doc_id": doc.doc_id, "status": str(doc.status)}
        rt.search(show_progress=False)
    typer.echo(json.dumps(out, ensure_ascii=False))


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="查询文本；“-” 表示从标准输入逐行读取")],
    k: Annotated[int, typer.Option("-k", help="返回条数")] = 5,
    region: Annotated[str | None, typer.Option(help="来电人所在地区")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（每个查询一行）")] = False,
) -> None:
    """检索答复口径和政策条款（模型只加载一次）。"""
    from kb_service import suggestions

    rt = _runtime()
    try:
        svc = rt.search(show_progress=not as_json)
        for text in _inputs(query):
            with session_scope(rt.engine) as session:
                try:
                    out = suggestions.suggest(
                        session,
                        search=svc,
                        calibration=rt.calibration,
                        text=text,
                        region=region,
                        k=k,
                        record=False,
                    )
                except KBError as exc:
                    out = {"error": exc.code, "detail": exc.message}
            out.pop("query_id", None)
            result = {"query": text, **out}
            if as_json:
                typer.echo(json.dumps(result, ensure_ascii=False))
            else:
                typer.echo(f"# {text}  （可直接答复：{'是' if out.get('answerable') else '否'}）")
                for n, r in enumerate(out.get("results", []), start=1):
                    src = r["source"]
                    typer.echo(
                        f"{n}. [{r['kind']}] {r['title']}  置信度 {r['confidence']:.2f}"
                        f"  {r['department'] or ''} {src.get('doc_no') or ''}"
                        f"{src.get('locator') or ''}"
                    )
                    typer.echo(f"   {r['text'][:120]}")
    finally:
        rt.close()


@app.command()
def route(
    text: Annotated[str, typer.Argument(help="来电内容；“-” 表示从标准输入逐行读取")],
    at: Annotated[str | None, typer.Option(help="受理时间 ISO 8601，默认现在")] = None,
    region: Annotated[str | None, typer.Option(help="来电人所在地区")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（每条一行）")] = False,
) -> None:
    """给出受理决定：直接答复、转紧急热线、不予受理或建单（类型、承办单位、办理时限）。"""
    from datetime import datetime

    from kb_service import intake

    rt = _runtime()
    try:
        svc = rt.search(show_progress=not as_json)
        when = datetime.fromisoformat(at) if at else None
        for item in _inputs(text):
            with session_scope(rt.engine) as session:
                try:
                    out = intake.route(
                        session,
                        search=svc,
                        calibration=rt.calibration,
                        rules_cache=rt.rules_cache,
                        core=rt.ticket_core(),
                        text=item,
                        at=when,
                        region=region,
                        create_ticket=False,
                        calendar=rt.calendar,
                        similarity=rt.similarity(),
                        tokenize=rt.tokenize,
                    )
                except KBError as exc:
                    out = {"error": exc.code, "detail": exc.message}
                session.rollback()  # a dry decision: nothing is logged from the CLI
            result = {
                "text": item,
                "action": out.get("action"),
                "divert_to": out.get("divert_to"),
                "reason": out.get("reason") or out.get("say"),
                "ticket": out.get("ticket"),
                "suggestions": [
                    {
                        "id": r["id"],
                        "kind": r["kind"],
                        "title": r["title"],
                        "confidence": r["confidence"],
                    }
                    for r in out.get("suggestions", [])
                ],
                **({"error": out["error"], "detail": out["detail"]} if "error" in out else {}),
            }
            typer.echo(
                json.dumps(result, ensure_ascii=False, default=str, indent=None if as_json else 2)
            )
    finally:
        rt.close()


tickets_app = typer.Typer(help="内置工单系统", no_args_is_help=True)
app.add_typer(tickets_app, name="tickets")


@tickets_app.command("list")
def tickets_list(
    department: Annotated[str | None, typer.Option(help="单位编码")] = None,
    status: Annotated[str | None, typer.Option(help="状态")] = None,
) -> None:
    """列出工单（最新在前）。"""
    from kb_service import tickets
    from kb_service.principals import SYSTEM

    with _running() as rt, session_scope(rt.engine) as session:
        rows = [
            tickets.to_public(session, t)
            for t in tickets.list_tickets(
                session, actor=SYSTEM, department=department, status=status
            )
        ]
    for t in rows:
        typer.echo(json.dumps(t, ensure_ascii=False))


@tickets_app.command("act")
def tickets_act(
    ticket_no: Annotated[str, typer.Argument(help="工单号")],
    action: Annotated[str, typer.Argument(help="accept | return | extend | close | callback")],
    reason: Annotated[str | None, typer.Option(help="退回依据和改派意见")] = None,
    workdays: Annotated[int | None, typer.Option(help="延期工作日数（≤10）")] = None,
    result: Annotated[str | None, typer.Option(help="办理结果")] = None,
    satisfaction: Annotated[str | None, typer.Option(help="回访满意度")] = None,
) -> None:
    """以系统身份处理内置工单：受理、退回、延期、办结、回访。"""
    from kb_service import tickets
    from kb_service.principals import SYSTEM

    with _running() as rt:
        kind = tickets.event_kind(action)
        detail = {
            k: v
            for k, v in {
                "reason": reason,
                "workdays": workdays,
                "result": result,
                "satisfaction": satisfaction,
            }.items()
            if v is not None
        }
        with session_scope(rt.engine) as session:
            t = tickets.act(
                session,
                refresh_workdays=rt.settings.refresh_workdays,
                actor=SYSTEM,
                ticket_no=ticket_no,
                kind=kind,
                detail=detail,
                calendar=rt.calendar,
            )
            out = tickets.to_public(session, t)
    typer.echo(json.dumps(out, ensure_ascii=False))


@app.command()
def sweep() -> None:
    """记录已到复核期的条目和待复核的文件变更（服务内每小时自动执行，也可由 cron 调用）。"""
    with _running() as rt:
        created = rt.sweeper().run_once()
        typer.echo(json.dumps({"created": created}, ensure_ascii=False))


@app.command()
def reindex() -> None:
    """从数据库完整重建检索索引（带进度条）。"""
    rt = _runtime()
    try:
        from kb_service.search import SearchService

        svc = SearchService(engine=rt.engine, encoder=rt.encoder, index_dir=rt.settings.index_dir)
        svc.cache.load(svc.cache_path)
        n = svc.rebuild(show_progress=True)
        typer.echo(json.dumps({"indexed": n, "seq": svc.seq}, ensure_ascii=False))
    finally:
        rt.close()


@app.command()
def doctor() -> None:
    """检查索引与数据库是否一致；不一致时以非零状态退出。"""
    rt = _runtime()
    try:
        report = rt.search(show_progress=True).doctor()
    finally:
        rt.close()
    out = {
        "ok": report.ok,
        "index_seq": report.index_seq,
        "db_seq": report.db_seq,
        "missing": report.missing,
        "extra": report.extra,
        "stale": report.stale,
    }
    typer.echo(json.dumps(out, ensure_ascii=False))
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def report(
    month: Annotated[str | None, typer.Option(help="月报，如 2026-10")] = None,
    quarter: Annotated[str | None, typer.Option(help="季报，如 2026-Q4")] = None,
    year: Annotated[str | None, typer.Option(help="年报，如 2026")] = None,
    format: Annotated[str, typer.Option("--format", help="json、xlsx 或 html")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出文件")] = None,
) -> None:
    """生成知识库运行情况月报、季报或年报（第二十七条），含各单位知识库更新率等指标。"""
    chosen = [p for p in (month, quarter, year) if p]
    if len(chosen) != 1:
        typer.echo("请且只能指定 --month、--quarter、--year 之一", err=True)
        raise typer.Exit(2)
    from api.routes.freshness import build_report
    from kb_service import reports

    with _running() as rt, session_scope(rt.engine) as session:
        body, _ = reports.render(build_report(session, runtime=rt, period=chosen[0]), format)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(body)
        typer.echo(json.dumps({"written": str(output)}, ensure_ascii=False))
    elif format == "xlsx":
        typer.echo("XLSX 为二进制格式，请用 --output 指定输出文件", err=True)
        raise typer.Exit(2)
    else:
        sys.stdout.write(body.decode("utf-8") + "\n")


if __name__ == "__main__":
    app()
