// The map of offers and needs (Leaflet from market/static/vendor/leaflet, served by us).
// Progressive: the section is hidden in the HTML and shown only here, so without JavaScript the
// list stays the page. Points are the posts' coarse public points from /api/v1/map; beyond
// 2,000 posts the API answers grid clusters ({cluster: true, count}), drawn as larger circles.
(function () {
  "use strict";

  function link(feature) {
    var p = feature.properties;
    var box = document.createElement("div");
    var a = document.createElement("a");
    a.href = "/posts/" + encodeURIComponent(p.id);
    a.textContent = p.title; // text, never HTML: titles are written by anyone
    box.appendChild(a);
    return box;
  }

  // A service's popup: its name linking to its page, and its address (both as text).
  function serviceLink(feature) {
    var p = feature.properties;
    var box = document.createElement("div");
    var a = document.createElement("a");
    a.href = p.url;
    a.textContent = p.name;
    box.appendChild(a);
    var where = document.createElement("div");
    where.textContent = p.address;
    box.appendChild(where);
    return box;
  }

  function start(section) {
    if (typeof L === "undefined") return;
    section.hidden = false;
    var holder = section.querySelector(".map");
    var map = L.map(holder, { scrollWheelZoom: false });
    map.attributionControl.setPrefix(false);
    L.tileLayer(section.dataset.tiles, {
      maxZoom: 18,
      // Phones have 2-3 device pixels per CSS pixel: a 256 px tile drawn at 128 px stays sharp.
      detectRetina: true,
      attribution: section.dataset.attribution,
    }).addTo(map);
    var layer = L.layerGroup().addTo(map);
    // Published services (public places at their own address), a layer of their own that the
    // reader can switch off; loaded once, since a city's directory is small.
    if (section.dataset.services) {
      var services = L.layerGroup().addTo(map);
      var overlays = {};
      overlays[section.dataset.servicesLabel || "Services"] = services;
      L.control.layers(null, overlays).addTo(map);
      fetch(section.dataset.services, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          data.features.forEach(function (f) {
            var c = f.geometry.coordinates;
            L.circleMarker([c[1], c[0]], { radius: 6, className: "map-service" })
              .bindPopup(serviceLink(f)).addTo(services);
          });
        })
        .catch(function () { /* the posts' layer still works */ });
    }
    var status = section.querySelector(".map-status");
    var first = true;

    function draw(data) {
      layer.clearLayers();
      var points = [];
      data.features.forEach(function (f) {
        var c = f.geometry.coordinates;
        var at = [c[1], c[0]];
        points.push(at);
        if (f.properties.cluster) {
          var n = f.properties.count;
          var m = L.circleMarker(at, {
            radius: Math.min(28, 8 + Math.sqrt(n)),
            className: "map-cluster",
          }).bindTooltip(String(n), { permanent: true, direction: "center", className: "map-count" });
          m.on("click", function () { map.setView(at, Math.min(map.getZoom() + 2, 18)); });
          m.addTo(layer);
        } else {
          L.circleMarker(at, {
            radius: 7,
            className: "map-post map-" + f.properties.kind,
          }).bindPopup(link(f)).addTo(layer);
        }
      });
      if (status) status.textContent = data.features.length ? "" : section.dataset.empty;
      if (first) {
        first = false;
        if (points.length) map.fitBounds(points, { maxZoom: 13, padding: [20, 20] });
        else map.setView([51.2, 10.4], 5);
      }
    }

    function load(withBox) {
      var url = section.dataset.api;
      if (withBox) {
        var b = map.getBounds();
        // The box is widened to a grid a quarter of the view wide (a power of two of degrees),
        // so that small moves ask for the same address: the server's short cache and the
        // browser's answer them instead of the database. Points outside the view cost nothing.
        var span = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth(), 1e-4);
        var step = Math.pow(2, Math.ceil(Math.log(span / 4) / Math.LN2));
        var edges = [
          Math.floor(b.getWest() / step) * step,
          Math.floor(b.getSouth() / step) * step,
          Math.ceil(b.getEast() / step) * step,
          Math.ceil(b.getNorth() / step) * step
        ];
        var box = edges.map(function (v, i) {
          var limit = i % 2 ? 90 : 180;
          return Math.max(-limit, Math.min(limit, v)).toFixed(5);
        });
        url += (url.indexOf("?") < 0 ? "?" : "&") + "bbox=" + box.join(",");
      }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(draw)
        .catch(function () { if (status) status.textContent = section.dataset.failed; });
    }

    var timer = null;
    map.on("moveend", function () {
      if (first) return;
      clearTimeout(timer);
      timer = setTimeout(function () { load(true); }, 250);
    });
    load(false);
  }

  // The map's stylesheets come with media="print" so they never hold the first paint; switched
  // on once loaded (Leaflet measures its box when it starts, so they must apply by then).
  function styled(callback) {
    var links = document.querySelectorAll("link[data-map-css]");
    var waiting = links.length;
    if (!waiting) { callback(); return; }
    links.forEach(function (link) {
      var done = false;
      function ready() {
        if (done) return;
        done = true;
        link.media = "all";
        waiting -= 1;
        if (waiting === 0) callback();
      }
      if (link.sheet) { ready(); return; }
      link.addEventListener("load", ready);
      link.addEventListener("error", ready);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    styled(function () { document.querySelectorAll("[data-map]").forEach(start); });
  });
})();
