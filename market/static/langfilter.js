/* "More languages" filter (templates/posts/form.html): typing narrows the 50-odd checkboxes to
   those whose code, name in the page language, own name or English name contains what was
   typed, ignoring case and accents. Progressive enhancement only: without this script the
   field stays hidden and every box is there. Ticked boxes never hide, so nothing chosen vanishes. */
(function () {
  "use strict";
  function fold(text) {
    var s = String(text).toLowerCase();
    if (s.normalize) { s = s.normalize("NFD").replace(/[\u0300-\u036f]/g, ""); }
    return s.replace(/[\u2066-\u2069]/g, "");
  }

  function wire(box) {
    var input = box.querySelector("input[type=search]");
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var none = box.querySelector("[data-lang-none]");
    if (!list) { return; }
    var labels = Array.prototype.slice.call(list.querySelectorAll("label[data-terms]"));
    var terms = labels.map(function (label) { return fold(label.getAttribute("data-terms")); });
    var wasEmpty = false;

    function apply() {
      var wanted = fold(input.value).trim();
      var found = 0;
      labels.forEach(function (label, i) {
        var match = !wanted || terms[i].indexOf(wanted) !== -1;
        label.hidden = !(match || label.querySelector("input").checked);
        if (match) { found += 1; }
      });
      // Said once when nothing matches (role=status), not at every key.
      var empty = found === 0;
      if (empty !== wasEmpty) { none.textContent = empty ? none.getAttribute("data-lang-none") : ""; }
      wasEmpty = empty;
    }

    input.addEventListener("input", apply);
    // Enter in the filter must not send the whole form.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
    box.hidden = false;
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-lang-filter]"), wire);
})();
