/* Operator sidebar: debounced intake as the caller speaks, suggestion cards, keyboard control. */
"use strict";

(() => {
  const { api, el, toast, FRESHNESS, badge, fmtTime } = KB;
  const data = KB.pageData("op-data");
  const input = document.getElementById("caller-text");
  const list = document.getElementById("suggestions");
  const decisionBox = document.getElementById("decision");
  const status = document.getElementById("op-status");
  const DEBOUNCE_MS = 250;
  const REASONS = [
    ["outdated", "过时"], ["wrong", "错误"], ["incomplete", "不完整"], ["irrelevant", "不相关"],
  ];
  let timer = null;
  let controller = null;
  let current = { text: "", queryId: null, results: [] };
  let sequence = 0;

  /** Split `text` into plain and highlighted runs (longest term first), as DOM nodes. */
  function highlight(text, terms) {
    const words = [...new Set((terms || []).filter((t) => t && t.length > 0))]
      .sort((a, b) => b.length - a.length);
    const lower = text.toLowerCase();
    const nodes = [];
    let plain = "";
    let i = 0;
    while (i < text.length) {
      const hit = words.find((w) => lower.startsWith(w.toLowerCase(), i));
      if (hit) {
        if (plain) nodes.push(document.createTextNode(plain));
        plain = "";
        nodes.push(el("mark", {}, text.slice(i, i + hit.length)));
        i += hit.length;
      } else {
        plain += text[i];
        i += 1;
      }
    }
    if (plain) nodes.push(document.createTextNode(plain));
    return nodes;
  }

  function cards() {
    return [...list.querySelectorAll(".sugg")];
  }

  async function feedback(result, verdict, reason) {
    if (!current.queryId) {
      toast("本次查询未记录，无法提交反馈", true);
      return false;
    }
    try {
      await api(`/api/v1/suggestions/${current.queryId}/feedback`, {
        method: "POST",
        body: { kind: result.kind, id: result.id, verdict, reason: reason || null },
      });
      return true;
    } catch (err) {
      const msg = err.status === 404 || err.status === 405
        ? "反馈功能暂不可用（服务端接口尚未开放）"
        : err.detail;
      toast(msg, true);
      return false;
    }
  }

  async function adopt(card, result) {
    if (await feedback(result, "adopted", null)) {
      card.classList.add("adopted");
      card.querySelector(".adopt").textContent = "已采用";
      toast("已采用该答复口径");
    }
  }

  function reasonBox(card, result) {
    if (card.dataset.feedback) {  // one verdict per card: a second click only reminds
      toast(`已反馈过：${card.dataset.feedback}`);
      return;
    }
    const existing = card.querySelector(".reason-box");
    if (existing) {
      existing.remove();
      return;
    }
    const box = el("div", { class: "reason-box", role: "group", "aria-label": "不准确的原因" },
      el("span", {}, "原因："),
      REASONS.map(([code, label]) => el("button", {
        type: "button",
        onclick: async (event) => {
          event.stopPropagation();
          if (await feedback(result, "not_helpful", code)) {
            card.dataset.feedback = label;
            box.replaceWith(el("p", { class: "status" }, `已反馈：${label}`));
            toast(`已记录“${label}”反馈，谢谢`);
          }
        },
      }, label)));
    card.append(box);
    box.querySelector("button").focus();
  }

  async function copy(result) {
    try {
      await navigator.clipboard.writeText(result.text);
      toast("答复口径已复制");
    } catch (err) {
      const area = el("textarea", { "aria-hidden": "true" }, result.text);
      document.body.append(area);
      area.select();
      const ok = document.execCommand("copy");
      area.remove();
      toast(ok ? "答复口径已复制" : "复制失败，请手动选择文字复制", !ok);
    }
  }

  function card(result, index) {
    const fresh = (result.freshness && result.freshness.status) || "fresh";
    const src = result.source || {};
    const sourceText = [src.doc_no || src.title, src.locator].filter(Boolean).join(" ");
    const titleId = `sugg-${index}-title`;
    const node = el("li", {
      class: "sugg", tabindex: "0", "aria-labelledby": titleId,
      dataset: { id: String(result.id), kind: result.kind },
    },
    el("h3", { id: titleId }, highlight(result.title || "", result.highlights)),
    el("p", { class: "answer" }, highlight(result.text || "", result.highlights)),
    el("div", { class: "meta" },
      badge(fresh, FRESHNESS[fresh] || fresh),
      el("span", {}, result.department_name || result.department || ""),
      sourceText ? el("span", {}, `依据：${sourceText}`) : null,
      result.kind === "passage" ? el("span", {}, "政策原文") : null),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "primary adopt", onclick: () => adopt(node, result) }, "采用"),
      el("button", { type: "button", onclick: () => reasonBox(node, result) }, "不准确"),
      el("button", { type: "button", onclick: () => copy(result) }, "复制")));
    node.addEventListener("keydown", (event) => {
      if (event.target !== node) return;
      if (event.key === "Enter") {
        event.preventDefault();
        adopt(node, result);
      }
    });
    return node;
  }

  function renderResults(results) {
    list.replaceChildren();
    if (!results.length) {
      list.append(el("li", { class: "empty muted" },
        current.text ? "没有找到合适的答复口径，可发起知识提问。" : "输入来电内容后显示建议。"));
      return;
    }
    results.forEach((r, i) => list.append(card(r, i)));
  }

  function ticketForm(decision) {
    const t = decision.ticket;
    const typeSel = el("select", { id: "t-type" },
      data.ticket_types.map((x) => el("option", { value: x.code, selected: x.code === t.type }, x.label)));
    const deptSel = el("select", { id: "t-dept" },
      data.departments.map((d) => el("option", { value: d.code, selected: d.code === t.department }, d.name)));
    const result = el("p", { class: "status", role: "status" });
    const confirm = el("button", {
      type: "submit", class: "primary",
    }, "确认建单");
    const form = el("form", {
      class: "banner ticket", "aria-labelledby": "ticket-title",
      onsubmit: async (event) => {
        event.preventDefault();
        confirm.disabled = true;
        try {
          const made = await api("/api/v1/tickets", {
            method: "POST",
            body: { text: current.text, type: typeSel.value, department: deptSel.value },
          });
          result.textContent = `已建单：${made.ticket_no}，办理期限 ${fmtTime(made.due_at || made.due)}`;
          toast(`工单 ${made.ticket_no} 已创建`);
        } catch (err) {
          result.textContent = err.detail;
          confirm.disabled = false;
        }
      },
    },
    el("h2", { id: "ticket-title" }, "建议建单"),
    el("p", {}, `${t.type_label} · ${t.department_name} · 期限 ${fmtTime(t.due)}（${t.limit_workdays} 个工作日）`),
    decision.say ? el("p", {}, decision.say) : null,
    el("div", { class: "row" },
      el("div", { class: "t-type" }, el("label", { for: "t-type" }, "工单类型"), typeSel),
      el("div", {}, el("label", { for: "t-dept" }, "承办单位"), deptSel)),
    el("div", { class: "actions" }, confirm), result);
    return form;
  }

  function renderDecision(decision) {
    decisionBox.replaceChildren();
    if (!decision || decision.action === "answer") return;
    if (decision.action === "divert") {
      decisionBox.append(el("div", { class: "banner divert", role: "alert" },
        el("h2", {}, "紧急情况，请立即转接"),
        el("p", { class: "number" }, decision.divert_to || ""),
        decision.say ? el("p", {}, `请告知来电人：${decision.say}`) : null));
    } else if (decision.action === "reject") {
      decisionBox.append(el("div", { class: "banner reject" },
        el("h2", {}, "不予受理"),
        decision.reason ? el("p", {}, `原因：${decision.reason}`) : null,
        decision.channel ? el("p", {}, `建议渠道：${decision.channel}`) : null,
        decision.say ? el("p", {}, `请告知来电人：${decision.say}`) : null));
    } else if (decision.action === "ticket" && decision.ticket) {
      decisionBox.append(ticketForm(decision));
    }
  }

  async function refresh() {
    const text = input.value.trim();
    if (controller) controller.abort();
    if (!text) return;
    controller = new AbortController();
    const mine = ++sequence;
    status.textContent = "正在更新建议…";
    try {
      const out = await api("/api/v1/intake", {
        method: "POST", signal: controller.signal,
        body: { text, create_ticket: false },
      });
      if (mine !== sequence) return;
      current = { text, queryId: out.query_id, results: out.suggestions || [] };
      renderDecision(out);
      renderResults(current.results);
      status.textContent = `共 ${current.results.length} 条建议`;
      document.getElementById("kq-text").value = text;
    } catch (err) {
      if (err.name === "AbortError") return;
      if (mine === sequence) status.textContent = err.detail || "获取建议失败";
    }
  }

  function clearAll() {
    if (controller) controller.abort();
    clearTimeout(timer);
    sequence += 1;
    input.value = "";
    current = { text: "", queryId: null, results: [] };
    renderDecision(null);
    renderResults([]);
    status.textContent = "";
    input.focus();
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  });

  document.addEventListener("keydown", (event) => {
    const items = cards();
    const idx = items.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.preventDefault();
      clearAll();
    } else if (event.key === "ArrowDown" && (document.activeElement === input || idx >= 0)) {
      if (!items.length) return;
      event.preventDefault();
      items[Math.min(idx + 1, items.length - 1)].focus();
    } else if (event.key === "ArrowUp" && idx >= 0) {
      event.preventDefault();
      if (idx === 0) input.focus();
      else items[idx - 1].focus();
    }
  });

  document.getElementById("kq-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("kq-result");
    const body = {
      department: document.getElementById("kq-dept").value,
      text: document.getElementById("kq-text").value.trim(),
    };
    if (!body.department || !body.text) {
      out.textContent = "请选择单位并填写问题";
      return;
    }
    if (current.queryId) body.query_id = current.queryId;
    try {
      await api("/api/v1/knowledge-questions", { method: "POST", body });
      out.textContent = "知识提问已发送，单位答复后将更新知识库";
    } catch (err) {
      out.textContent = err.status === 404 || err.status === 405
        ? "知识提问功能暂不可用（服务端接口尚未开放）"
        : err.detail;
    }
  });
})();
