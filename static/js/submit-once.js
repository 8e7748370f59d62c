// Forms marked data-submit-once send one request: their buttons are disabled once the
// form is submitted, so a double click does not post twice. The server refuses a second
// start anyway; this only spares the second request.
document.addEventListener("submit", function (event) {
  "use strict";
  var form = event.target;
  if (!form.hasAttribute || !form.hasAttribute("data-submit-once")) {
    return;
  }
  if (form.getAttribute("data-submitted") === "true") {
    event.preventDefault();
    return;
  }
  form.setAttribute("data-submitted", "true");
  // After the submission has started: a disabled button would not be submitted.
  window.setTimeout(function () {
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
      button.disabled = true;
    });
  }, 0);
});
