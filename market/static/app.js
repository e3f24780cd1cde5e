/* Registers the service worker (/sw.js) that keeps the person's own pages readable offline.
   Progressive enhancement: without it every page works as before. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) { return; }
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* offline use is optional */ });
  });
})();
