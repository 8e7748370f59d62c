// The sign form, enhanced. Without JavaScript everything works and every field shows.
// 0. The form's CSRF token, fetched (below).
// 1. After a failed submit, the error summary at the top takes the focus, and its links
//    move the focus to their field (the GOV.UK pattern).
// 2. The RPPS number and the evidence show only for the categories that use them (and
//    whenever they hold a value or an error).
(function () {
  "use strict";
  // 0. The page is the same for every reader (a proxy may serve it), so it holds no CSRF
  //    token: fetch this visitor's own with the form. Without it (or without JavaScript),
  //    the browser's Origin and Sec-Fetch-Site headers protect the form.
  var tokenField = document.querySelector("input[name='csrf_token'][data-token-url]");
  if (tokenField && window.fetch) {
    fetch(tokenField.getAttribute("data-token-url"), {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (answer && answer.token) {
          tokenField.value = answer.token;
        }
      })
      .catch(function () {});
  }
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    if (document.activeElement !== summary) {
      summary.focus();
    }
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!field) {
        return;
      }
      event.preventDefault();
      var legend = field.closest("fieldset") && field.closest("fieldset").querySelector("legend");
      var label = document.querySelector("label[for='" + field.id + "']") || legend;
      (label || field).scrollIntoView();
      field.focus({preventScroll: true});
    });
  }

  var category = document.getElementById("category");
  var parts = document.querySelectorAll("[data-for-categories]");
  if (!category || !parts.length) {
    return;
  }
  function holdsSomething(part) {
    if (part.querySelector(".field-error")) {
      return true;
    }
    return Array.prototype.some.call(part.querySelectorAll("input"), function (input) {
      return input.value !== "";
    });
  }
  function update() {
    parts.forEach(function (part) {
      var keys = part.getAttribute("data-for-categories").split(" ");
      part.hidden = keys.indexOf(category.value) === -1 && !holdsSomething(part);
    });
  }
  category.addEventListener("change", update);
  update();
}());
