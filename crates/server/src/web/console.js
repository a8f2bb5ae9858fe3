// The console's progressive enhancement. Every page works without it; this adds the live
// count of new tickets in the inbox, SLA countdowns, select-all, the canned-response picker
// and dragging cards on the board. Served from our origin (the pages' CSP allows no inline
// script), no library.
(function () {
  "use strict";

  // Live update: ask every 15 s how many tickets of this view arrived since the page was drawn.
  var live = document.getElementById("live");
  if (live && window.fetch) {
    var poll = function () {
      var url = "/agent/live?view=" + encodeURIComponent(live.dataset.view) +
        "&q=" + encodeURIComponent(live.dataset.q) +
        "&priority=" + encodeURIComponent(live.dataset.priority) + "&since=" + live.dataset.since;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (j && j.count > 0) {
            live.textContent = live.dataset.message.replace("{count}", j.count + (j.more ? "+" : ""));
            var a = document.createElement("a");
            a.href = window.location.pathname + window.location.search;
            a.textContent = " ↻";
            live.appendChild(a);
            live.hidden = false;
          }
        })
        .catch(function () {});
    };
    setInterval(poll, parseInt(live.dataset.every || "15000", 10));
  }

  // SLA countdowns: the time left (or overdue, with a minus) beside each deadline, each minute.
  var countdowns = document.querySelectorAll("time[data-countdown]");
  var tick = function () {
    var now = Date.now();
    countdowns.forEach(function (t) {
      var ms = Date.parse(t.getAttribute("datetime")) - now;
      var m = Math.round(Math.abs(ms) / 60000);
      var text = (ms < 0 ? "−" : "") + (m >= 1440 ? Math.floor(m / 1440) + "d " : "") +
        Math.floor((m % 1440) / 60) + "h " + (m % 60) + "m";
      var span = t.nextElementSibling && t.nextElementSibling.classList.contains("left")
        ? t.nextElementSibling : null;
      if (!span) {
        span = document.createElement("span");
        span.className = "left";
        t.parentNode.insertBefore(span, t.nextSibling);
      }
      span.textContent = " (" + text + ")";
    });
  };
  if (countdowns.length) { tick(); setInterval(tick, 60000); }

  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("#tickets input[name=n]").forEach(function (c) { c.checked = all.checked; });
    });
  }

  // Canned responses: the chosen text goes into the reply at the cursor.
  var canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      var box = document.getElementById(canned.dataset.target);
      if (!box || !canned.value) { return; }
      var at = box.selectionStart || box.value.length;
      box.value = box.value.slice(0, at) + canned.value + box.value.slice(at);
      box.focus();
      canned.value = "";
    });
  }

  // The board: pointer events (mouse, pen and touch alike) rather than HTML drag and drop,
  // which touch screens and WebDriver do not drive.
  var board = document.getElementById("board");
  if (!board) { return; }
  var status = document.getElementById("board-status");
  var say = function (text, refused) {
    status.textContent = text;
    status.className = refused ? "refused" : "";
  };
  var drag = null;
  var columnAt = function (x, y) {
    var el = document.elementFromPoint(x, y);
    return el ? el.closest(".column") : null;
  };
  board.addEventListener("pointerdown", function (e) {
    var card = e.target.closest(".card");
    if (!card || e.button !== 0 || e.target.closest("a, select, button, input")) { return; }
    e.preventDefault();
    var ghost = card.cloneNode(true);
    ghost.classList.add("ghost");
    ghost.removeAttribute("id");
    document.body.appendChild(ghost);
    card.classList.add("dragging");
    drag = { card: card, ghost: ghost, from: card.closest(".column"), over: null };
    ghost.style.left = e.clientX + 8 + "px";
    ghost.style.top = e.clientY + 8 + "px";
  });
  document.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    drag.ghost.style.left = e.clientX + 8 + "px";
    drag.ghost.style.top = e.clientY + 8 + "px";
    var col = columnAt(e.clientX, e.clientY);
    if (drag.over && drag.over !== col) { drag.over.classList.remove("target"); }
    if (col && col !== drag.from) { col.classList.add("target"); }
    drag.over = col;
  });
  var end = function (e) {
    if (!drag) { return; }
    var d = drag;
    drag = null;
    d.ghost.remove();
    d.card.classList.remove("dragging");
    if (d.over) { d.over.classList.remove("target"); }
    var col = e.type === "pointerup" ? columnAt(e.clientX, e.clientY) : null;
    if (!col || col === d.from) { return; }
    var body = new URLSearchParams();
    body.set("csrf", board.dataset.csrf);
    body.set("number", d.card.dataset.number);
    body.set("to", col.dataset.status);
    fetch("/agent/board/move", { method: "POST", credentials: "same-origin", body: body })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.ok) {
          // The column of the new status in the card's own lane (lanes per department).
          var lane = d.from.closest(".lane") || board;
          var target = lane.querySelector(".column[data-status='" + j.status + "']") || col;
          target.insertBefore(d.card, target.querySelector(".card"));
          say(j.message, false);
        } else {
          say(j.message, true);
        }
      })
      .catch(function () { say("—", true); });
  };
  document.addEventListener("pointerup", end);
  document.addEventListener("pointercancel", end);
})();
