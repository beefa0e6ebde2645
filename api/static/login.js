/* Sign-in: check the token with GET /api/v1/me before the server stores it in a cookie. */
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  let checked = false;
  form.addEventListener("submit", async (event) => {
    if (checked) return;
    event.preventDefault();
    const token = document.getElementById("token").value.trim();
    if (!token) {
      error.textContent = "请输入访问令牌";
      return;
    }
    try {
      const response = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${token}` } });
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        error.textContent = data.detail || "访问令牌无效";
        return;
      }
    } catch (err) {
      error.textContent = "无法连接服务器，请稍后重试";
      return;
    }
    checked = true;
    form.submit();
  });
})();
