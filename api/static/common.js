/* Shared helpers for the kb-service pages (plain JS, no library). */
"use strict";

const KB = (() => {
  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail);
      this.status = status;
      this.code = code;
      this.detail = detail;
    }
  }

  /** Call the JSON API with the session cookie; errors carry the Chinese `detail`. */
  async function api(path, options = {}) {
    const init = { method: options.method || "GET", credentials: "same-origin", headers: {}, signal: options.signal };
    if (options.form) {
      init.body = options.form;
    } else if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network", "无法连接服务器，请检查网络后重试");
    }
    const type = response.headers.get("content-type") || "";
    const data = type.includes("application/json") ? await response.json() : null;
    if (!response.ok) {
      if (response.status === 401) {
        throw new ApiError(401, "unauthorized", "登录已失效，请重新登录");
      }
      const detail = (data && data.detail) || `请求失败（${response.status}）`;
      throw new ApiError(response.status, (data && data.error) || "http_error", detail);
    }
    return data;
  }

  /** Build an element: el("p", {class: "x"}, "text", child). Text is never parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  let toastTimer = null;
  /** A short message in the corner (also read out by screen readers). */
  function toast(message, bad = false) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.classList.toggle("bad", bad);
    box.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => box.classList.remove("show"), 4000);
  }

  const FRESHNESS = { fresh: "有效", due: "待复核", overdue: "逾期", expired: "已过期" };
  const STATUS = { draft: "草稿", in_review: "待审核", published: "已发布", retired: "已下线" };

  function badge(kind, label) {
    return el("span", { class: `badge ${kind}` }, label);
  }

  /** YYYY-MM-DD HH:MM in Beijing time. */
  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const parts = new Intl.DateTimeFormat("zh-CN", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false,
    }).formatToParts(d);
    const get = (t) => (parts.find((p) => p.type === t) || {}).value || "";
    return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
  }

  function pct(value) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
    return `${(Number(value) * 100).toFixed(1)}%`;
  }

  function pageData(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
  }

  return { api, ApiError, el, toast, FRESHNESS, STATUS, badge, fmtTime, pct, pageData };
})();
