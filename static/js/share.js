// The share panel without JavaScript is a readonly link and plain links. With it: a button
// that copies the link, and the browser's own share sheet where it has one (Web Share API).
(function () {
  "use strict";
  var status = document.querySelector(".share-status");

  function say(key) {
    if (status) {
      status.textContent = status.getAttribute(key) || "";
    }
  }

  document.querySelectorAll("[data-copy-from]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-from"));
    if (!field) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () {
          say("data-copied");
        }, function () {
          say(document.execCommand("copy") ? "data-copied" : "data-copy-failed");
        });
      } else {
        say(document.execCommand("copy") ? "data-copied" : "data-copy-failed");
      }
    });
  });

  document.querySelectorAll(".share-native").forEach(function (button) {
    if (typeof navigator.share !== "function") {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.share({
        title: button.getAttribute("data-share-title"),
        url: button.getAttribute("data-share-url")
      }).catch(function () { /* closed by the reader */ });
    });
  });
}());
