"""Build kb_service/data/service_routes.json (service name → Qinghai department code).

Reads ../shared/eval/zhongshan_service_items.jsonl (build time only; the product never reads
../shared). Each item's Guangdong department is mapped to the Qinghai department with the same
function; departments with no Qinghai counterpart in departments.json are dropped and counted.

    .venv/bin/python bench/build_service_routes.py [--source PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "eval" / "zhongshan_service_items.jsonl"
DEFAULT_OUT = ROOT / "kb_service" / "data" / "service_routes.json"
DEPARTMENTS = ROOT / "kb_service" / "data" / "departments.json"

# First matching pattern wins, so specific bodies come before broad ones. A pattern mapped to None
# marks a body with no Qinghai counterpart or outside the hotline's remit (courts, procuratorate,
# military, national security: 第十一条); those items are dropped on purpose.
DEPARTMENT_MAP: list[tuple[str, str | None]] = [
    (r"法院|检察院|国家安全|军民融合|人民防空|武警|军区", None),
    (r"医疗保障", "medical-insurance"),
    (r"人力资源和社会保障|人事考试|高等学校毕业生就业", "hrss"),
    (r"公安|出入境", "public-security"),
    (r"消防救援|应急管理|地震局", "emergency"),
    (r"司法|戒毒|法律服务|公益法律", "justice"),
    (r"税务", "tax"),
    (
        r"市场监督|药品监督|药品检验|特种设备检测|计量科学|标准化研究|产品质量监督|消费者委员会|"
        r"医疗器械质量|生产许可证审查|珠宝玉石及贵金属检测|通讯终端产品质量",
        "market",
    ),
    (r"卫生健康|中医药|人民医院|公共卫生研究", "health"),
    (r"住房和城乡建设|城乡规划设计", "housing"),
    (r"规划和自然资源|自然资源|不动产|地质|国土资源", "natural-resources"),
    (r"生态环境", "ecology"),
    (r"水利|西江流域|珠江水利", "water"),
    (r"林业", "forestry"),
    (r"农业农村|水产|农垦", "agriculture"),
    (r"交通运输|道路运输|海事局", "transport"),
    (r"教育", "education"),
    (r"文化和旅游|图书馆|文献编目|艺术研究", "culture-tourism"),
    (r"民政|社会组织管理|残疾人联合会|残疾人辅助器具", "civil-affairs"),
    (r"发展和改革", "ndrc"),
    (r"工业和信息化|信息安全测评", "industry-it"),
    (r"科学技术厅|科学技术情报|科技图书馆|科技评估", "science"),
    (r"商务厅", "commerce"),
    (r"财政厅|政府采购|地方金融监督", "finance"),
    (r"档案", "archives"),
    (r"邮政管理", "postal"),
    (r"电网", "energy"),
    (r"公共资源交易", "gov-service"),
]


def map_department(name: str) -> str | None:
    """Qinghai department code for a Guangdong department name, or None when unmapped."""
    for pattern, code in DEPARTMENT_MAP:
        if re.search(pattern, name):
            return code
    return None


def build(source: Path) -> tuple[dict[str, str], Counter[str], int]:
    """Return (name → code, dropped department counts, item count)."""
    known = {row["code"] for row in json.loads(DEPARTMENTS.read_text(encoding="utf-8"))}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    dropped: Counter[str] = Counter()
    total = 0
    with source.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            item = json.loads(line)
            total += 1
            dept = " ".join(str(item.get("DEPT_NAME") or "").split())
            name = " ".join(str(item.get("TASK_NAME") or "").split())
            code = map_department(dept)
            if code is None or not name:
                dropped[dept or "(空)"] += 1
                continue
            if code not in known:
                raise SystemExit(f"mapping uses unknown department code {code!r}")
            votes[name][code] += 1
    # A name offered by two bodies (province and city) keeps the code most items agree on.
    routes = {name: counter.most_common(1)[0][0] for name, counter in sorted(votes.items())}
    return routes, dropped, total


def main(argv: list[str] | None = None) -> int:
    """Build the table, write compact JSON and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    routes, dropped, total = build(args.source)
    text = json.dumps(routes, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    kept = total - sum(dropped.values())
    by_code = Counter(routes.values())
    print(f"items {total}, kept {kept}, dropped {sum(dropped.values())}")
    print(f"service names {len(routes)}, departments {len(by_code)}, {len(text.encode())} bytes")
    print("per code:", ", ".join(f"{c} {n}" for c, n in by_code.most_common()))
    print(f"dropped departments ({len(dropped)}):")
    for dept, count in dropped.most_common():
        print(f"  {count:4d}  {dept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
