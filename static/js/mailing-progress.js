// The live numbers of a mailing's progress page: polls its progress.json every 2 seconds
// and stops once the mailing is done or cancelled; reloads the page when the status
// changes, so that its buttons match. Without this script the page shows the numbers at
// load time and a refresh link.
(function () {
  "use strict";
  var root = document.querySelector("[data-progress-url]");
  if (!root || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-progress-url");
  var initial = root.getAttribute("data-status");
  var finished = ["done", "cancelled"];
  var numbers = new Intl.NumberFormat(document.documentElement.lang || undefined, {
    maximumFractionDigits: 1,
  });
  var every = 2000;

  function show(data) {
    root.querySelectorAll("[data-field]").forEach(function (element) {
      var value = data[element.getAttribute("data-field")];
      var text = value === null || value === undefined ? "—" : numbers.format(value);
      if (element.textContent !== text) {
        element.textContent = text;
      }
    });
    var bar = root.querySelector("progress");
    if (bar && typeof data.percent === "number") {
      bar.value = data.percent;
      bar.textContent = numbers.format(data.percent) + " %";
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.status !== initial) {
          window.location.reload();
        } else if (finished.indexOf(data.status) === -1) {
          window.setTimeout(poll, every);
        }
      })
      .catch(function () {
        // Offline, or logged out: try again, less often.
        window.setTimeout(poll, 5 * every);
      });
  }

  if (finished.indexOf(initial) === -1) {
    window.setTimeout(poll, every);
  }
})();
