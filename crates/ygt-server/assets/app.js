// ygt pages: live notifications (server-sent events) and printing. No inline scripts: the
// content security policy forbids them.
(function () {
  "use strict";
  function ready(f) {
    if (document.readyState !== "loading") { f(); } else { document.addEventListener("DOMContentLoaded", f); }
  }
  ready(function () {
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    var badge = document.getElementById("unread-count");
    if (!badge || !window.EventSource) { return; }
    var en = document.documentElement.lang === "en";
    var es = new EventSource("/events");
    function show(n) {
      badge.textContent = n > 0 ? String(n) : "";
      badge.hidden = !(n > 0);
    }
    // The session ended (signed out here or elsewhere, expired): stop listening.
    es.addEventListener("ended", function () { es.close(); show(0); });
    es.addEventListener("hello", function (e) {
      try { show(JSON.parse(e.data).unread); } catch (_) { /* ignore */ }
    });
    es.addEventListener("notification", function (e) {
      var d;
      try { d = JSON.parse(e.data); } catch (_) { return; }
      show(d.unread);
      var box = document.getElementById("toasts");
      if (!box) { return; }
      var a = document.createElement("a");
      a.className = "toast";
      a.setAttribute("role", "status");
      a.textContent = en ? d.title_en : d.title_zh;
      if (d.referral_id) { a.href = "/referrals/" + d.referral_id; }
      box.appendChild(a);
      setTimeout(function () { a.remove(); }, 15000);
    });
  });
})();
