// ygt pages: live notifications (server-sent events) and printing. No inline scripts: the
// content security policy forbids them.
(function () {
  "use strict";
  function ready(f) {
    if (document.readyState !== "loading") { f(); } else { document.addEventListener("DOMContentLoaded", f); }
  }
  // On a phone a table becomes one card per row: each cell learns its column's name, which
  // the style sheet shows beside it (done again for rows htmx brings in).
  function cards(root) {
    root.querySelectorAll(".table-wrap table").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      if (heads.length === 0) { return; }
      table.parentElement.classList.add("cards");
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (td, i) {
          if (!td.hasAttribute("data-label")) { td.setAttribute("data-label", heads[i] || ""); }
        });
      });
    });
  }
  // The 「更多」 menu closes when the user clicks elsewhere or comes back to the page.
  function menus() {
    document.addEventListener("click", function (e) {
      document.querySelectorAll("details.more[open]").forEach(function (d) {
        if (!d.contains(e.target)) { d.removeAttribute("open"); }
      });
    });
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("details.more[open]").forEach(function (d) { d.removeAttribute("open"); });
    });
  }
  ready(function () {
    cards(document);
    menus();
    document.body.addEventListener("htmx:afterSwap", function (e) { cards(e.target.ownerDocument || document); });
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    var badge = document.getElementById("unread-count");
    if (!badge || !window.EventSource) { return; }
    live(badge, document.documentElement.lang === "en");
  });

  // Only the page in front listens. A browser opens at most six connections to one server
  // (HTTP/1.1), and a stream holds one for as long as it is open: pages kept in the
  // back/forward cache or in background tabs that kept theirs made the next page wait for
  // about a minute. So the stream closes when the page is hidden, frozen or left (pagehide;
  // no unload handler, which would keep the page out of the back/forward cache) and opens
  // again when the page comes back (pageshow, also from the back/forward cache). The server
  // sends the unread count first ("hello") each time, so the badge is right again at once,
  // and a toast says how many messages came while the page was away.
  function live(badge, en) {
    var es = null;
    var ended = false;
    var unread = null; // the count shown; null until the first "hello"
    var missed = false; // the stream was closed since the count was shown

    function show(n) {
      unread = n;
      badge.textContent = n > 0 ? String(n) : "";
      badge.hidden = !(n > 0);
    }
    function toast(text, href) {
      var box = document.getElementById("toasts");
      if (!box) { return; }
      var a = document.createElement("a");
      a.className = "toast";
      a.setAttribute("role", "status");
      a.textContent = text;
      if (href) { a.href = href; }
      box.appendChild(a);
      setTimeout(function () { a.remove(); }, 15000);
    }
    function open() {
      if (ended || document.visibilityState === "hidden") { return; }
      if (es && es.readyState !== EventSource.CLOSED) { return; }
      es = new EventSource("/events");
      // The session ended (signed out here or elsewhere, expired): stop listening.
      es.addEventListener("ended", function () { ended = true; close(); show(0); });
      es.addEventListener("hello", function (e) {
        var n;
        try { n = JSON.parse(e.data).unread; } catch (_) { return; }
        if (missed && unread !== null && n > unread) {
          var k = n - unread;
          toast((badge.dataset.missed || "{n}").replace("{n}", String(k)), "/inbox");
        }
        missed = false;
        show(n);
      });
      es.addEventListener("notification", function (e) {
        var d;
        try { d = JSON.parse(e.data); } catch (_) { return; }
        show(d.unread);
        toast(en ? d.title_en : d.title_zh, d.referral_id ? "/referrals/" + d.referral_id : null);
      });
    }
    function close() {
      if (es) {
        es.close();
        es = null;
        missed = true;
      }
    }

    window.addEventListener("pagehide", close);
    window.addEventListener("pageshow", open);
    document.addEventListener("freeze", close);
    document.addEventListener("resume", open);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { close(); } else { open(); }
    });
    open();
  }
})();
