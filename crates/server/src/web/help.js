// The feedback form's suggestions: while someone describes their problem, published help
// articles that may already answer it. Built with DOM nodes only (the snippet HTML comes from
// the server escaped, with <mark> around the matches).
(function () {
  "use strict";
  var form = document.querySelector("form[action='/feedback']");
  var text = document.getElementById("description");
  var box = document.getElementById("suggestions");
  var visit = document.querySelector("input[name='visit']");
  if (!form || !text || !box || !visit) return;
  var timer = null;
  var last = "";

  function render(items) {
    var list = box.querySelector("ol");
    list.textContent = "";
    box.hidden = items.length === 0;
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = item.title;
      li.appendChild(a);
      var p = document.createElement("p");
      // Escaped by the server; only <mark> is markup.
      p.innerHTML = item.snippet_html;
      li.appendChild(p);
      var yes = document.createElement("button");
      yes.type = "button";
      yes.className = "answered";
      yes.textContent = box.getAttribute("data-answered");
      yes.addEventListener("click", function () {
        fetch("/help/answered", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ visit: visit.value, article: item.id })
        }).then(function () {
          var done = document.createElement("p");
          done.id = "deflected";
          done.setAttribute("role", "status");
          done.textContent = box.getAttribute("data-thanks");
          form.replaceWith(done);
          box.hidden = true;
        });
      });
      li.appendChild(yes);
      list.appendChild(li);
    });
  }

  function ask() {
    var q = text.value.trim();
    if (q === last) return;
    last = q;
    if (q.length < 2) { render([]); return; }
    fetch("/help/suggest?visit=" + encodeURIComponent(visit.value) + "&q=" + encodeURIComponent(q.slice(0, 300)))
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (text.value.trim() === q) render(items); })
      .catch(function () {});
  }

  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 400);
  });
})();
