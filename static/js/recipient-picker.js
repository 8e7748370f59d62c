// The recipients' picker of a letter to officials (compose page). Without this script the
// picker is plain grouped checkboxes, a "Find" button that filters the départements on the
// server, "all of the région" boxes applied on save, and a "Count the recipients" button.
// With it:
// - the search filters the départements as one types (by number, name or région, accents
//   and capitals aside: the same words the server searches, in each item's data-search);
// - each région's "all of" box ticks or clears its départements, and shows whether some are
//   ticked (indeterminate);
// - every change asks recipients.json for the number of recipients (debounced) and writes
//   it in the live region, which screen readers announce.
(function () {
  "use strict";
  var root = document.querySelector("[data-recipient-picker]");
  if (!root || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var form = root.closest("form");
  var countUrl = root.getAttribute("data-count-url");
  var output = root.querySelector("[data-picker-count]");
  var found = root.querySelector("[data-picker-found]");
  var none = root.querySelector("[data-picker-none]");
  var search = root.querySelector("input[type=search]");
  var lang = document.documentElement.lang || undefined;
  var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;
  var COUNTED = ["roles", "chambers", "departements", "regions", "authority_ids", "official_ids"];
  var WAIT = 300;

  // The no-JavaScript controls: the script does their work as one goes.
  root.querySelectorAll("[data-picker-nojs]").forEach(function (element) {
    element.remove();
  });

  function inflect(element, prefix, count) {
    var kind = plural && plural.select(count) === "one" ? "one" : "other";
    var text = element.getAttribute(prefix + kind) || "";
    return text.replace("{num}", count.toLocaleString(lang));
  }

  // --- Search ---------------------------------------------------------------------------

  function searchKey(text) {
    return text
      .normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, " ")
      .trim();
  }

  function matches(words, typed) {
    return typed.every(function (part) {
      return words.some(function (word) {
        return word.indexOf(part) === 0;
      });
    });
  }

  var regions = Array.prototype.slice.call(root.querySelectorAll("[data-region]"));
  regions.forEach(function (region) {
    region.setAttribute("data-was-open", region.open ? "1" : "");
  });

  function filter() {
    var typed = searchKey(search.value).split(" ").filter(Boolean);
    var total = 0;
    regions.forEach(function (region) {
      var shown = 0;
      region.querySelectorAll("li[data-search]").forEach(function (item) {
        var hit = !typed.length || matches(item.getAttribute("data-search").split(" "), typed);
        item.hidden = !hit;
        shown += hit ? 1 : 0;
      });
      total += shown;
      region.hidden = shown === 0;
      region.open = typed.length
        ? shown > 0
        : region.getAttribute("data-was-open") === "1" || region.querySelector("li input:checked") !== null;
    });
    if (found) {
      found.textContent = typed.length ? inflect(found, "data-found-", total) : "";
    }
    if (none) {
      none.hidden = total > 0;
    }
  }

  if (search) {
    search.addEventListener("input", filter);
    // Enter would press the form's first button: here it only searches.
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        filter();
      }
    });
    if (search.value) {
      filter();
    }
  }

  // --- Régions: all, some or none --------------------------------------------------------

  function syncRegion(region) {
    var all = region.querySelector("[data-region-all]");
    var boxes = region.querySelectorAll("li input[type=checkbox]");
    var ticked = 0;
    boxes.forEach(function (box) {
      ticked += box.checked ? 1 : 0;
    });
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    var chosen = region.querySelector("[data-region-chosen]");
    if (chosen) {
      chosen.textContent = ticked ? "(" + inflect(root, "data-chosen-", ticked) + ")" : "";
    }
  }

  regions.forEach(function (region) {
    var all = region.querySelector("[data-region-all]");
    if (all) {
      all.addEventListener("change", function () {
        region.querySelectorAll("li input[type=checkbox]").forEach(function (box) {
          box.checked = all.checked;
        });
        syncRegion(region);
      });
    }
    region.querySelectorAll("li input[type=checkbox]").forEach(function (box) {
      box.addEventListener("change", function () {
        syncRegion(region);
      });
    });
    syncRegion(region);
  });

  // --- The live count -------------------------------------------------------------------

  var timer = null;
  var asked = 0;

  function show(data) {
    var lines = [];
    var strong = document.createElement("strong");
    strong.textContent = data.message;
    var first = document.createElement("p");
    first.appendChild(strong);
    lines.push(first);
    if (data.skipped_message) {
      var skipped = document.createElement("p");
      skipped.className = "hint";
      skipped.textContent = data.skipped_message;
      lines.push(skipped);
    }
    output.replaceChildren.apply(output, lines);
    output.setAttribute("data-count", String(data.count));
  }

  function count() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (COUNTED.indexOf(name) !== -1) {
        params.append(name, value);
      }
    });
    var mine = ++asked;
    root.setAttribute("aria-busy", "true");
    fetch(countUrl + "?" + params.toString(), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (mine === asked) {
          show(data);
        }
      })
      .catch(function () {
        // Offline or logged out: the count stays as it was; saving still works.
      })
      .then(function () {
        if (mine === asked) {
          root.removeAttribute("aria-busy");
        }
      });
  }

  root.addEventListener("change", function (event) {
    if (event.target.type !== "checkbox") {
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(count, WAIT);
  });
})();
