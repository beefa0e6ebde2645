"""The `kb` command line: init, serve, tokens, entry import/export (and more as issues land)."""

from __future__ import annotations

import json
import os
import sys
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
    rt = _runtime()
    try:
        report = init_runtime(rt, demo=demo)
    except KBError as exc:
        _fail(exc)
    finally:
        rt.close()
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址")] = None,
    port: Annotated[int | None, typer.Option(help="端口")] = None,
    demo: Annotated[bool, typer.Option(help="启动前载入演示知识库")] = True,
) -> None:
    """初始化数据库并启动 API 服务。"""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    rt = Runtime.create(settings)
    report = init_runtime(rt, demo=demo and settings.load_demo)
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

    rt = _runtime()
    try:
        with session_scope(rt.engine) as session:
            user, token = auth.create_token(
                session,
                name=name or f"{role}-{department or 'global'}",
                role=role,
                department_code=department,
                label=label,
            )
            out = {"user_id": user.id, "role": role, "department": department, "token": token}
    except KBError as exc:
        _fail(exc)
    finally:
        rt.close()
    typer.echo(json.dumps(out, ensure_ascii=False))


@entries_app.command("import")
def entries_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL/CSV/XLSX")],
    department: Annotated[str | None, typer.Option(help="所有行归属的单位（编码或名称）")] = None,
) -> None:
    """导入知识条目（JSONL 或 FAQ 表格），报告接受和拒绝的行及原因。"""
    from ingestion.entries_io import import_file
    from kb_service.principals import SYSTEM

    rt = _runtime()
    try:
        with session_scope(rt.engine) as session:
            from kb_service import bootstrap

            bootstrap.seed_departments(session)
            report = import_file(session, actor=SYSTEM, path=file, department=department)
    except KBError as exc:
        _fail(exc)
    finally:
        rt.close()
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


if __name__ == "__main__":
    app()
