/* Department workspace: entries with editor, review and history; obligations; uploads. */
"use strict";

(() => {
  const { api, el, toast, FRESHNESS, STATUS, badge, fmtTime } = KB;
  const data = KB.pageData("dept-data");
  const $ = (id) => document.getElementById(id);
  const deptInput = $("dept");
  const GRACE_DAYS = 30;
  const ACTIONS = {
    create: "创建", update: "修改", edit: "编辑", submit: "提交审核", publish: "发布", reject: "退回",
    retire: "下线", rollback: "回滚", push: "单位推送", review: "复核",
  };
  let entries = [];
  let selected = null;
  let versions = [];

  const dept = () => deptInput.value;

  // ---- tabs (arrow keys move between tabs, as in the WAI-ARIA pattern) ----
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  function showTab(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (tab.id === "tab-obligations") loadObligations();
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => showTab(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      next.focus();
      showTab(next);
    });
  });

  // ---- freshness (same rule as the suggestions: review date, 30-day grace, validity end) ----
  function freshness(entry) {
    const today = new Date().toISOString().slice(0, 10);
    if (entry.valid_to && today > entry.valid_to) return "expired";
    if (!entry.last_reviewed_at) return "due";
    const due = new Date(entry.last_reviewed_at);
    due.setUTCDate(due.getUTCDate() + (entry.review_interval_days || data.review_days));
    const dueDay = due.toISOString().slice(0, 10);
    if (today < dueDay) return "fresh";
    due.setUTCDate(due.getUTCDate() + GRACE_DAYS);
    return today <= due.toISOString().slice(0, 10) ? "due" : "overdue";
  }

  // ---- entry list ----
  async function loadEntries() {
    const params = new URLSearchParams({ department: dept(), page_size: "500" });
    const q = $("f-q").value.trim();
    if (q) params.set("q", q);
    if ($("f-status").value) params.set("status", $("f-status").value);
    $("list-status").textContent = "正在加载…";
    try {
      const page = await api(`/api/v1/entries?${params}`);
      const fresh = $("f-fresh").value;
      entries = page.items.filter((e) => !fresh || freshness(e) === fresh);
      renderEntries();
      $("list-status").textContent = `共 ${entries.length} 条`;
    } catch (err) {
      $("list-status").textContent = err.detail;
    }
  }

  function renderEntries() {
    const body = $("entries-table").querySelector("tbody");
    body.replaceChildren();
    for (const e of entries) {
      const f = freshness(e);
      const open = () => openEntry(e.id);
      const link = el("a", { href: `#entry-${e.id}`, onclick: (ev) => { ev.preventDefault(); open(); } }, e.question);
      body.append(el("tr", { class: selected && selected.id === e.id ? "selected" : "", onclick: open },
        el("td", {}, link, e.needs_review ? el("span", { class: "badge due" }, " 需复核") : null),
        el("td", {}, badge("status", STATUS[e.status] || e.status)),
        el("td", {}, badge(f, FRESHNESS[f])),
        el("td", { class: "num" }, `v${e.version}`)));
    }
  }

  // ---- editor ----
  function fill(entry) {
    $("e-question").value = entry ? entry.question : "";
    $("e-similar").value = entry ? entry.similar_questions.join("\n") : "";
    $("e-answer").value = entry ? entry.answer : "";
    $("e-category").value = (entry && entry.category) || "";
    $("e-interval").value = (entry && entry.review_interval_days) || "";
    $("e-sources").value = entry
      ? entry.sources.map((s) => [s.doc_no || s.title || "", s.locator || ""].filter(Boolean).join(" | ")).join("\n")
      : "";
    $("e-from").value = (entry && entry.valid_from) || "";
    $("e-to").value = (entry && entry.valid_to) || "";
    $("e-reason").value = "";
    $("editor-error").textContent = "";
  }

  function content() {
    const lines = (id) => $(id).value.split("\n").map((s) => s.trim()).filter(Boolean);
    const interval = $("e-interval").value.trim();
    return {
      question: $("e-question").value.trim(),
      similar_questions: lines("e-similar"),
      answer: $("e-answer").value.trim(),
      category: $("e-category").value.trim() || null,
      review_interval_days: interval ? Number(interval) : null,
      sources: lines("e-sources").map((line) => {
        const [docNo, locator] = line.split("|").map((s) => s.trim());
        return { doc_no: docNo || null, locator: locator || null };
      }),
      valid_from: $("e-from").value || null,
      valid_to: $("e-to").value || null,
    };
  }

  function showEditor(entry) {
    selected = entry;
    $("editor").hidden = false;
    $("editor-title").textContent = entry ? "编辑条目" : "新建条目";
    $("editor-meta").textContent = entry
      ? `${STATUS[entry.status] || entry.status} · 第 ${entry.version} 版 · 更新于 ${fmtTime(entry.updated_at)}`
      : "新条目保存后为草稿";
    const note = $("review-comment");
    note.hidden = !(entry && entry.review_comment);
    note.textContent = entry && entry.review_comment ? `审核意见：${entry.review_comment}` : "";
    fill(entry);
    const pub = $("btn-publish");
    const rej = $("btn-reject");
    if (pub) pub.disabled = !entry || entry.status !== "in_review";
    if (rej) rej.disabled = !entry || entry.status !== "in_review";
    renderEntries();
  }

  async function openEntry(id) {
    try {
      const entry = await api(`/api/v1/entries/${id}`);
      showEditor(entry);
      await loadVersions();
      $("e-question").focus();
    } catch (err) {
      toast(err.detail, true);
    }
  }

  async function save(submit) {
    const body = content();
    const reason = $("e-reason").value.trim() || null;
    try {
      let entry;
      if (!selected) {
        entry = await api("/api/v1/entries", { method: "POST", body: { ...body, department: dept(), submit } });
      } else {
        entry = await api(`/api/v1/entries/${selected.id}`, {
          method: "PUT", body: { ...body, base_version: selected.version, reason, submit },
        });
      }
      toast(submit ? "已提交审核" : "已保存草稿");
      showEditor(entry);
      await Promise.all([loadVersions(), loadEntries()]);
    } catch (err) {
      $("editor-error").textContent = err.code === "stale_version"
        ? "该条目已被他人修改，请重新打开后再编辑"
        : err.detail;
    }
  }

  async function transition(action, extra) {
    if (!selected) return;
    try {
      const entry = await api(`/api/v1/entries/${selected.id}/${action}`, {
        method: "POST", body: { base_version: selected.version, ...extra },
      });
      toast({ publish: "已批准发布", reject: "已退回修改", rollback: "已回滚并发布" }[action] || "已完成");
      showEditor(entry);
      await Promise.all([loadVersions(), loadEntries()]);
    } catch (err) {
      $("editor-error").textContent = err.detail;
    }
  }

  $("btn-save").addEventListener("click", () => save(false));
  $("btn-submit").addEventListener("click", () => save(true));
  if ($("btn-publish")) {
    $("btn-publish").addEventListener("click", () => transition("publish", {}));
    $("btn-reject").addEventListener("click", () => {
      const comment = $("e-comment").value.trim();
      if (!comment) {
        $("editor-error").textContent = "退回时请填写审核意见";
        $("e-comment").focus();
        return;
      }
      transition("reject", { comment });
    });
  }
  $("new-entry").addEventListener("click", () => {
    showEditor(null);
    $("versions").replaceChildren();
    $("diff").replaceChildren();
    $("e-question").focus();
  });
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadEntries();
  });
  for (const id of ["f-status", "f-fresh"]) $(id).addEventListener("change", loadEntries);
  if (deptInput.tagName === "SELECT") deptInput.addEventListener("change", () => {
    $("editor").hidden = true;
    selected = null;
    loadEntries();
    if (!$("panel-obligations").hidden) loadObligations();
  });

  // ---- history, diff, rollback ----
  function diffText(a, b) {
    const x = [...(a || "")];
    const y = [...(b || "")];
    if (x.length * y.length > 4000000) {
      return [el("del", {}, a), el("ins", {}, b)];
    }
    const n = x.length;
    const m = y.length;
    const dp = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let i = n - 1; i >= 0; i -= 1) {
      for (let j = m - 1; j >= 0; j -= 1) {
        dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
      }
    }
    const out = [];
    const push = (tag, ch) => {
      const last = out[out.length - 1];
      if (last && last.tag === tag) last.text += ch;
      else out.push({ tag, text: ch });
    };
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) { push("span", x[i]); i += 1; j += 1; }
      else if (j < m && (i >= n || dp[i][j + 1] >= dp[i + 1][j])) { push("ins", y[j]); j += 1; }
      else { push("del", x[i]); i += 1; }
    }
    return out.map((part) => el(part.tag, {}, part.text));
  }

  function showDiff(older, newer) {
    const fields = [
      ["question", "标准问题", (v) => v.question],
      ["similar", "相似问法", (v) => v.similar_questions.join("\n")],
      ["answer", "答复口径", (v) => v.answer],
      ["sources", "政策依据", (v) => v.sources.map((s) => [s.doc_no || s.title, s.locator].filter(Boolean).join(" ")).join("\n")],
      ["validity", "有效期", (v) => `${v.valid_from || "不限"} 至 ${v.valid_to || "不限"}`],
    ];
    const box = $("diff");
    box.replaceChildren(el("h3", {}, `第 ${older.version} 版 → 第 ${newer.version} 版`));
    let changed = 0;
    for (const [, label, get] of fields) {
      const a = get(older);
      const b = get(newer);
      if (a === b) continue;
      changed += 1;
      box.append(el("p", {}, el("strong", {}, `${label}：`), el("br"), diffText(a, b)));
    }
    if (!changed) box.append(el("p", { class: "muted" }, "两个版本内容相同"));
  }

  async function loadVersions() {
    const listNode = $("versions");
    listNode.replaceChildren();
    $("diff").replaceChildren();
    if (!selected) return;
    try {
      versions = await api(`/api/v1/entries/${selected.id}/versions`);
    } catch (err) {
      listNode.append(el("li", {}, err.detail));
      return;
    }
    const key = (v) => JSON.stringify([v.question, v.similar_questions, v.answer, v.sources, v.valid_from, v.valid_to]);
    versions.forEach((v, i) => {
      const older = versions.slice(i + 1).find((o) => key(o) !== key(v));
      listNode.append(el("li", {},
        `第 ${v.version} 版 · ${ACTIONS[v.action] || v.action} · ${STATUS[v.status] || v.status} · ${v.by || "系统"} · ${fmtTime(v.at)}`,
        v.reason ? ` · ${v.reason}` : "",
        older ? el("button", { type: "button", onclick: () => showDiff(older, v) }, "与上一版内容对比") : null,
        data.can_review && v.version !== selected.live_version
          ? el("button", {
            type: "button", class: "danger",
            onclick: () => transition("rollback", { to_version: v.version, reason: `回滚到第 ${v.version} 版` }),
          }, "回滚到此版")
          : null));
    });
  }

  // ---- obligations inbox ----
  async function loadObligations() {
    const box = $("obligations");
    const statusNode = $("ob-status");
    statusNode.textContent = "正在加载…";
    let items;
    try {
      items = await api(`/api/v1/departments/${encodeURIComponent(dept())}/obligations`);
    } catch (err) {
      box.replaceChildren();
      statusNode.textContent = err.status === 404 && err.code === "not_found"
        ? "待办义务功能暂不可用（服务端接口尚未开放）"
        : err.detail;
      return;
    }
    items = Array.isArray(items) ? items : items.items || [];
    statusNode.textContent = items.length ? `共 ${items.length} 项，最早到期的在前` : "暂无待办义务";
    box.replaceChildren(...items.map((ob) => {
      const reason = el("input", { id: `ob-reason-${ob.id}`, maxlength: "200" });
      const result = el("p", { class: "status", role: "status" });
      return el("li", { class: "ob" },
        el("h3", {}, `${ob.kind_label || "义务"} · ${ob.state_label || ob.state || ""}`),
        el("p", { class: "meta" }, `到期：${fmtTime(ob.due_at)}`, ob.ticket_no ? ` · 工单 ${ob.ticket_no}` : ""),
        ob.text ? el("blockquote", {}, ob.text) : null,
        (ob.related_entries || []).length
          ? el("div", {}, el("span", {}, "相关条目："), (ob.related_entries || []).map((r) => el("button", {
            type: "button",
            onclick: () => { showTab($("tab-entries")); openEntry(r.id); },
          }, `编辑：${r.question}`)))
          : el("p", { class: "muted" }, "暂无相关条目，可新建条目"),
        ob.fulfilled_at
          ? el("p", { class: "muted" }, `已办结${ob.fulfilment_label ? `：${ob.fulfilment_label}` : ""}`)
          : null,
        ob.fulfilled_at ? null : el("label", { for: `ob-reason-${ob.id}` }, "确认说明（现有口径仍然准确时填写，必填）"),
        ob.fulfilled_at ? null : reason,
        ob.fulfilled_at ? null : el("div", { class: "actions" }, el("button", {
          type: "button", class: "primary",
          onclick: async () => {
            if (!reason.value.trim()) {
              result.textContent = "请填写确认说明";
              reason.focus();
              return;
            }
            try {
              await api(`/api/v1/obligations/${ob.id}/confirm`, {
                method: "POST", body: { reason: reason.value.trim() },
              });
              toast("已确认");
              loadObligations();
            } catch (err) {
              result.textContent = err.detail;
            }
          },
        }, "确认无需修改")), result);
    }));
  }

  // ---- upload ----
  $("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("u-file").files[0];
    const statusNode = $("upload-status");
    if (!file) {
      statusNode.textContent = "请选择要上传的文件";
      return;
    }
    const form = new FormData();
    form.append("file", file);
    if (deptInput.tagName === "SELECT") form.append("department", dept());
    statusNode.textContent = "正在上传并解析…";
    try {
      const report = await api("/api/v1/documents", { method: "POST", form });
      statusNode.textContent = "解析完成";
      const c = report.counts || {};
      // The summary lists the locators (第一条, …) added, changed and removed: show how many.
      const count = (v) => (Array.isArray(v) ? v.length : v || 0);
      $("upload-report").replaceChildren(el("section", { class: "card" },
        el("h3", {}, "解析报告"),
        el("p", {}, `文件 ${c.documents || 0} 份，段落 ${c.passages || 0} 段，条目 ${c.entries || 0} 条，未通过 ${c.rejected || 0} 项`),
        el("ul", {}, (report.documents || []).map((d) => el("li", {},
          `${d.doc_no || ""} ${d.title || ""}（第 ${d.version} 版，${d.passages} 段；新增 ${count((d.summary || {}).added)}、修改 ${count((d.summary || {}).changed)}、删除 ${count((d.summary || {}).removed)}）`))),
        (report.rejected || []).length
          ? el("div", {}, el("h3", {}, "未通过的内容"),
            el("ul", {}, report.rejected.map((r) => el("li", { class: "error" }, `${r.input || ""}${r.line ? ` 第 ${r.line} 行` : ""}：${r.detail}`))))
          : null));
    } catch (err) {
      statusNode.textContent = err.detail;
    }
  });

  loadEntries();
})();
