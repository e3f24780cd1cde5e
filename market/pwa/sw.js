/* Anlauf's service worker: the person's own matches, conversations and the posts they have
   seen stay readable offline (network first, the last copy when the network fails); any other
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
      return response;
    }).catch(function () {
      return caches.open(PAGES_CACHE).then(function (cache) {
        return (kept(url.pathname) ? cache.match(request, { ignoreSearch: true }) : Promise.resolve(undefined));
      }).then(function (hit) {
        return hit || caches.match(OFFLINE);
      });
    })
  );
});
