// Closedloop feedback widget. Embed with
//   <script src="https://closedloop.example/widget.js" data-site-key="wk_..." async></script>
// Optional: data-lang="zh" or "en" (default: the browser's language).
// Everything lives in a shadow root, so the page's styles and ours never mix; text is set with
// textContent only, never parsed as HTML.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.siteKey) { return; }
  var base = new URL(script.src).origin;
  var key = script.dataset.siteKey;
  var zh = (script.dataset.lang || navigator.language || "").toLowerCase().indexOf("zh") === 0;
  var categories = /*CATEGORIES*/[];
  var t = zh ? {
    open: "意见反馈", title: "告诉我们发生了什么", what: "问题或建议（必填）", category: "类别（可选）",
    none: "不确定", email: "邮箱（可选，用于回复您）", shot: "截图（可选）", send: "提交", cancel: "关闭",
    sending: "正在提交…", done: "已收到，编号 ", follow: "查看处理进度", failed: "提交失败：", empty: "请填写内容。"
  } : {
    open: "Feedback", title: "Tell us what happened", what: "Problem or suggestion (required)",
    category: "Category (optional)", none: "Not sure", email: "E-mail (optional, for our answer)",
    shot: "Screenshot (optional)", send: "Send", cancel: "Close", sending: "Sending…",
    done: "Received, number ", follow: "Follow it here", failed: "Could not send: ", empty: "Please write something."
  };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) { e.textContent = text; }
    return e;
  }

  var host = el("div", { "data-closedloop-widget": "" });
  var root = host.attachShadow({ mode: "closed" });
  var style = el("style");
  style.textContent =
    ".btn{position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:10px 16px;border:0;border-radius:20px;" +
    "background:#1f6feb;color:#fff;font:14px system-ui,sans-serif;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.2)}" +
    ".panel{position:fixed;right:20px;bottom:70px;z-index:2147483000;width:320px;max-width:calc(100vw - 40px);" +
    "background:#fff;color:#222;border:1px solid #ccc;border-radius:8px;padding:14px;font:14px system-ui,sans-serif;" +
    "box-shadow:0 4px 16px rgba(0,0,0,.2)}.panel[hidden]{display:none}label{display:block;margin:8px 0 2px}" +
    "textarea,select,input{width:100%;box-sizing:border-box;font:inherit}textarea{height:90px}" +
    ".row{display:flex;gap:8px;margin-top:10px}.row button{flex:1;padding:8px;cursor:pointer}.msg{margin-top:8px}";
  root.appendChild(style);

  var button = el("button", { "class": "btn", type: "button" }, t.open);
  var panel = el("form", { "class": "panel", hidden: "" });
  panel.appendChild(el("strong", {}, t.title));
  panel.appendChild(el("label", { "for": "cl-what" }, t.what));
  var what = el("textarea", { id: "cl-what", maxlength: "5000", required: "" });
  panel.appendChild(what);
  panel.appendChild(el("label", { "for": "cl-cat" }, t.category));
  var category = el("select", { id: "cl-cat" });
  category.appendChild(el("option", { value: "" }, t.none));
  categories.forEach(function (c) {
    category.appendChild(el("option", { value: c.code }, zh ? c.name_zh : c.name));
  });
  panel.appendChild(category);
  panel.appendChild(el("label", { "for": "cl-email" }, t.email));
  var email = el("input", { id: "cl-email", type: "email", maxlength: "254" });
  panel.appendChild(email);
  panel.appendChild(el("label", { "for": "cl-shot" }, t.shot));
  var shot = el("input", { id: "cl-shot", type: "file", accept: "image/png,image/jpeg,image/gif,image/webp" });
  panel.appendChild(shot);
  var row = el("div", { "class": "row" });
  var send = el("button", { type: "submit" }, t.send);
  var cancel = el("button", { type: "button" }, t.cancel);
  row.appendChild(send);
  row.appendChild(cancel);
  panel.appendChild(row);
  var msg = el("div", { "class": "msg", role: "status" });
  panel.appendChild(msg);
  root.appendChild(button);
  root.appendChild(panel);

  button.addEventListener("click", function () { panel.hidden = !panel.hidden; if (!panel.hidden) { what.focus(); } });
  cancel.addEventListener("click", function () { panel.hidden = true; });

  function readImage(file) {
    return new Promise(function (resolve, reject) {
      if (!file) { resolve(null); return; }
      var r = new FileReader();
      r.onload = function () { resolve({ filename: file.name, data: String(r.result) }); };
      r.onerror = function () { reject(r.error); };
      r.readAsDataURL(file);
    });
  }

  panel.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!what.value.trim()) { msg.textContent = t.empty; return; }
    send.disabled = true;
    msg.textContent = t.sending;
    readImage(shot.files && shot.files[0]).then(function (image) {
      var body = { description: what.value, page: location.href };
      if (category.value) { body.category = category.value; }
      if (email.value.trim()) { body.email = email.value.trim(); }
      if (image) { body.screenshot = image; }
      return fetch(base + "/api/v1/intake/widget/" + encodeURIComponent(key), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit"
      });
    }).then(function (res) {
      return res.json().then(function (json) { return { ok: res.ok, json: json }; });
    }).then(function (r) {
      msg.textContent = "";
      if (!r.ok) {
        var e = r.json && r.json.error;
        msg.textContent = t.failed + (e ? e.message : "?");
        return;
      }
      msg.appendChild(document.createTextNode(t.done + r.json.ticket + " "));
      var link = el("a", { href: base + r.json.follow_url, target: "_blank", rel: "noopener" }, t.follow);
      msg.appendChild(link);
      what.value = ""; shot.value = "";
    }).catch(function (err) {
      msg.textContent = t.failed + err;
    }).then(function () { send.disabled = false; });
  });

  (document.body || document.documentElement).appendChild(host);
})();
