/* Manager dashboard: sortable indicator table, monthly SVG chart, knowledge gaps, reports. */
"use strict";

(() => {
  const { api, el, pct } = KB;
  const data = KB.pageData("m-data");
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const PCT_KEYS = new Set([
    "update_rate", "entries_overdue_review_share", "direct_answer_rate", "policy_push_rate",
  ]);
  let rows = [];
  let sort = { key: "overdue_obligations", dir: -1 };
  let monthly = [];

  // ---- indicator table ----
  function cell(row, key) {
    const v = row[key];
    if (key === "name") return row.name || row.code;
    return PCT_KEYS.has(key) ? pct(v) : (v ?? "—");
  }

  function renderTable() {
    const body = $("metrics-table").querySelector("tbody");
    const sorted = [...rows].sort((a, b) => {
      const x = a[sort.key];
      const y = b[sort.key];
      if (typeof x === "string" || typeof y === "string") {
        return sort.dir * String(x ?? "").localeCompare(String(y ?? ""), "zh-CN");
      }
      return sort.dir * ((x ?? -1) - (y ?? -1));
    });
    body.replaceChildren(...sorted.map((row) => el("tr", {},
      ["name", "update_rate", "overdue_obligations", "entries_overdue_review_share",
        "direct_answer_rate", "policy_push_rate"].map((key) => el(key === "name" ? "th" : "td",
        key === "name" ? { scope: "row" } : { class: "num" }, cell(row, key))))));
    if (!sorted.length) {
      body.append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "所选期间暂无单位数据")));
    }
    for (const th of $("metrics-table").querySelectorAll("th[data-key]")) {
      th.setAttribute("aria-sort", th.dataset.key === sort.key
        ? (sort.dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  for (const th of document.querySelectorAll("#metrics-table th[data-key]")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.key;
      sort = { key, dir: sort.key === key ? -sort.dir : (key === "name" ? 1 : -1) };
      renderTable();
    });
  }

  async function loadMetrics() {
    const params = new URLSearchParams({ start: $("m-start").value, end: $("m-end").value });
    $("m-status").textContent = "正在加载…";
    try {
      const out = await api(`/api/v1/metrics?${params}`);
      rows = out.departments || [];
      renderTable();
      $("m-status").textContent = `${rows.length} 个单位`;
    } catch (err) {
      rows = [];
      renderTable();
      $("m-status").textContent = err.status === 404 && err.code === "not_found"
        ? "指标功能暂不可用（服务端接口尚未开放）" : err.detail;
    }
  }

  // ---- monthly chart (inline SVG) ----
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const COLORS = ["#0b5cad", "#c0392b", "#1e8449", "#8e44ad", "#b9770e", "#117a8b"];

  /** Overall and the busiest departments' monthly 知识库更新率 as series. */
  function series() {
    const out = [{ name: "全部单位", values: monthly.map((m) => (typeof m.overall === "number" ? m.overall : null)) }];
    const due = {};
    for (const m of monthly) {
      for (const [code, d] of Object.entries(m.departments || {})) {
        due[code] = (due[code] || 0) + (d.due || 0);
      }
    }
    const top = Object.keys(due).sort((a, b) => due[b] - due[a]).slice(0, COLORS.length - 1);
    for (const code of top) {
      const name = (monthly.map((m) => (m.departments || {})[code]).find(Boolean) || {}).name || code;
      out.push({ name, values: monthly.map((m) => ((m.departments || {})[code] || {}).update_rate ?? null) });
    }
    return out;
  }

  function drawChart() {
    const box = $("chart");
    const legend = $("legend");
    const lines = series();
    if (!lines.some((s) => s.values.some((v) => v !== null))) {
      box.replaceChildren(el("p", { class: "muted" }, "暂无逐月数据（尚无到期的知识更新义务）"));
      legend.replaceChildren();
      return;
    }
    const labels = monthly.map((m, i) => `${Number(String(m.month || i + 1).slice(-2))}月`);
    const W = 640; const H = 240; const L = 48; const R = 12; const T = 12; const B = 28;
    const n = labels.length;
    const sx = (i) => L + (n > 1 ? (i * (W - L - R)) / (n - 1) : (W - L - R) / 2);
    const sy = (v) => T + (H - T - B) * (1 - v);
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title chart-desc" });
    chart.append(svg("title", { id: "chart-title" }, "知识库更新率逐月趋势"));
    chart.append(svg("desc", { id: "chart-desc" }, lines[0].values
      .map((v, i) => (v === null ? null : `${labels[i]}：${pct(v)}`)).filter(Boolean).join("，") || "全部单位暂无数据"));
    for (let t = 0; t <= 4; t += 1) {
      const v = t / 4;
      chart.append(svg("line", { class: "gridline", x1: L, x2: W - R, y1: sy(v), y2: sy(v) }));
      chart.append(svg("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, `${t * 25}%`));
    }
    chart.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    labels.forEach((label, i) => chart.append(svg("text", { x: sx(i), y: H - 8, "text-anchor": "middle" }, label)));
    lines.forEach((s, k) => {
      const color = COLORS[k % COLORS.length];
      const pts = s.values.map((v, i) => ({ i, v })).filter((p) => p.v !== null);
      chart.append(svg("polyline", {
        points: pts.map((p) => `${sx(p.i)},${sy(p.v)}`).join(" "),
        fill: "none", stroke: color, "stroke-width": k === 0 ? 3 : 1.5,
      }));
      for (const p of pts) {
        const dot = svg("circle", { cx: sx(p.i), cy: sy(p.v), r: k === 0 ? 4 : 3, fill: color });
        dot.append(svg("title", {}, `${s.name} ${labels[p.i]}：${pct(p.v)}`));
        chart.append(dot);
      }
    });
    box.replaceChildren(chart);
    legend.replaceChildren(...lines.map((s, k) => el("span", { style: `--c:${COLORS[k % COLORS.length]}` }, s.name)));
  }

  async function loadMonthly() {
    try {
      const out = await api(`/api/v1/metrics/monthly?year=${encodeURIComponent(data.year)}`);
      monthly = Array.isArray(out) ? out : out.months || [];
      drawChart();
    } catch (err) {
      $("chart").replaceChildren(el("p", { class: "muted" }, err.status === 404 && err.code === "not_found"
        ? "逐月趋势暂不可用（服务端接口尚未开放）" : err.detail));
    }
  }

  // ---- knowledge gaps ----
  async function loadGaps() {
    const params = new URLSearchParams({ start: $("m-start").value, end: $("m-end").value });
    const box = $("gaps");
    try {
      const out = await api(`/api/v1/gaps?${params}`);
      const clusters = Array.isArray(out) ? out : out.clusters || [];
      if (!clusters.length) {
        box.replaceChildren(el("li", { class: "muted" }, "所选期间没有发现知识缺口"));
        return;
      }
      box.replaceChildren(...clusters.map((c) => {
        const examples = c.examples || [];
        const depts = (c.departments || []).map((d) => `${d.name}（${d.count}）`).join("、");
        return el("li", {},
          el("strong", {}, examples[0] || "未命名缺口"),
          ` · ${c.size ?? examples.length} 次未能直接解答`,
          depts ? el("div", { class: "muted" }, `涉及单位：${depts}`) : null,
          examples.length > 1 ? el("div", { class: "muted" }, `相似问法：${examples.slice(1, 4).join("；")}`) : null);
      }));
    } catch (err) {
      box.replaceChildren(el("li", { class: "muted" }, err.status === 404 && err.code === "not_found"
        ? "知识缺口分析暂不可用（服务端接口尚未开放）" : err.detail));
    }
  }

  // ---- reports ----
  function updateReportLinks() {
    const period = $("m-period").value;
    $("report-xlsx").href = `/api/v1/reports/${encodeURIComponent(period)}?format=xlsx`;
    $("report-html").href = `/api/v1/reports/${encodeURIComponent(period)}?format=html`;
  }
  $("m-period").addEventListener("change", updateReportLinks);
  $("report-form").addEventListener("submit", (event) => event.preventDefault());

  $("period-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadMetrics();
    loadGaps();
  });
  loadMetrics();
  loadMonthly();
  loadGaps();
})();
