/* Live notifications: keeps the header badge (and the notification list) up to date without a
   reload, through server-sent events from /notifications/stream. Progressive enhancement only:
   without this script (or without EventSource) every page still shows the count the server
   rendered, and marking as read works with plain forms. */
(function () {
  "use strict";
  if (!window.EventSource || !window.JSON) { return; }
  var link = document.querySelector('header a[href="/notifications"]');
  if (!link) { return; } // not logged in

  function badge() {
    var el = link.querySelector(".badge");
    if (!el) {
      el = document.createElement("span");
      el.className = "badge";
      el.setAttribute("aria-hidden", "true"); // the hidden label says the count in words
      link.appendChild(document.createTextNode(" "));
      link.appendChild(el);
      var label = document.createElement("span");
      label.className = "visually-hidden badge-label";
      link.appendChild(label);
    }
    return el;
  }

  function showCount(data) {
    var n = parseInt(data.unread, 10) || 0;
    var el = link.querySelector(".badge");
    var label = link.querySelector(".badge-label");
    if (n <= 0) {
      if (el) { el.parentNode.removeChild(el); }
      if (label) { label.parentNode.removeChild(label); }
    } else {
      el = badge();
      el.textContent = String(n);
      // A span may not carry aria-label (no role): the count in words sits in a hidden span.
      label = link.querySelector(".badge-label");
      if (label) { label.textContent = data.label || String(n); }
    }
    var counts = document.querySelectorAll("[data-live-count]");
    for (var i = 0; i < counts.length; i++) { counts[i].textContent = String(n); }
  }

  function showNotification(data) {
    var news = document.getElementById("live-news");
    if (news) { // on /notifications: announce it politely and offer the fresh list
      news.textContent = "";
      var a = document.createElement("a");
      a.href = data.url;
      a.textContent = data.text;
      news.appendChild(a);
      news.hidden = false;
    }
    var list = document.getElementById("notification-list");
    if (list && !document.getElementById("n-" + data.id)) {
      var li = document.createElement("li");
      li.className = "post unread";
      li.id = "n-" + data.id;
      var p = document.createElement("p");
      var a2 = document.createElement("a");
      a2.href = data.url;
      a2.textContent = data.text;
      p.appendChild(a2);
      li.appendChild(p);
      list.insertBefore(li, list.firstChild);
    }
  }

  var source = new EventSource("/notifications/stream");
  source.addEventListener("count", function (e) {
    try { showCount(JSON.parse(e.data)); } catch (err) { /* ignore a broken event */ }
    document.documentElement.setAttribute("data-live", "on"); // connected (tests wait for it)
  });
  source.addEventListener("notification", function (e) {
    try { showNotification(JSON.parse(e.data)); } catch (err) { /* ignore */ }
  });
  // A closed stream reconnects by itself (the server asks for 5 s); a 401 ends it for good.
})();
