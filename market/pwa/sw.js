/* Anlauf's service worker: the person's own matches, conversations and the posts they have
   seen stay readable offline (network first, the last copy when the network fails; the matches
   and conversations their lists link to are fetched and kept as well); any other
   page offline shows the offline page. Only this site's own GET requests are touched. Logging
   out deletes every copy (also sent as Clear-Site-Data by the logout response). */
"use strict";
var SHELL = __SHELL__;
var SHELL_CACHE = "anlauf-shell-v1";
var PAGES_CACHE = "anlauf-pages";
var OFFLINE = "/offline";
// Pages kept for offline reading: the person's own matches and conversations, and posts.
var KEEP = [/^\/my\/matches$/, /^\/matches\/[^/]+$/, /^\/conversations(\/[^/]+)?$/, /^\/my\/posts$/, /^\/posts\/[^/]+$/];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) { return cache.addAll(SHELL); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n !== SHELL_CACHE && n !== PAGES_CACHE;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

// The person's lists: the pages they link to are kept too, so a match or conversation never
// opened on this phone is still readable offline (at most MAX_LINKED of them per visit).
var LISTS = [/^\/my\/matches$/, /^\/conversations$/];
var LINKED = /href="(\/(?:matches|conversations)\/[0-9a-f-]+)(?:#[^"]*)?"/g;
var MAX_LINKED = 20;

function keepLinked(html) {
  var paths = [];
  var m;
  LINKED.lastIndex = 0;
  while ((m = LINKED.exec(html)) !== null && paths.length < MAX_LINKED) {
    if (paths.indexOf(m[1]) < 0) { paths.push(m[1]); }
  }
  return caches.open(PAGES_CACHE).then(function (cache) {
    return Promise.all(paths.map(function (path) {
      return fetch(path, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) { return undefined; }
        if (!response.redirected) { return cache.put(path, response); }
        // A match's conversation answers with its match page: kept under both addresses, as a
        // plain (not redirected) answer, which a navigation may be given.
        var target = new URL(response.url).pathname;
        return response.blob().then(function (body) {
          var init = { status: response.status, headers: response.headers };
          return Promise.all([
            cache.put(path, new Response(body, init)),
            kept(target) ? cache.put(target, new Response(body, init)) : undefined,
          ]);
        });
      }).catch(function () { /* kept as it was */ });
    }));
  });
}

function kept(path) {
  return KEEP.some(function (re) { return re.test(path); }) && path !== "/posts/new";
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST" && url.pathname === "/logout") {
    // Forget the person's pages before the next person uses this browser.
    event.waitUntil(caches.delete(PAGES_CACHE));
    return;
  }
  if (request.method !== "GET") { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
    return;
  }
  if (request.mode !== "navigate") { return; }
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && kept(url.pathname) && !response.redirected) {
        var copy = response.clone();
        caches.open(PAGES_CACHE).then(function (cache) { cache.put(request, copy); });
      }
      if (response.ok && !response.redirected && LISTS.some(function (re) { return re.test(url.pathname); })) {
        event.waitUntil(response.clone().text().then(keepLinked));
      }
      return response;
    }).catch(function () {
      return caches.open(PAGES_CACHE).then(function (cache) {
        return (kept(url.pathname) ? cache.match(request, { ignoreSearch: true, ignoreVary: true }) : Promise.resolve(undefined));
      }).then(function (hit) {
        return hit || caches.match(OFFLINE);
      });
    })
  );
});
