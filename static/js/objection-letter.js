// The supporter's letters: what they type about themselves fills in every letter and mail
// link, in the browser only; the copy button puts a letter on the clipboard. Without this
// script the page still shows the letters, and the PDF form takes the details.
(function () {
  "use strict";
  var letters = document.querySelectorAll("[data-letter]");
  letters.forEach(function (letter) {
    letter.setAttribute("data-template", letter.textContent);
  });

  function fill(details) {
    letters.forEach(function (letter) {
      var placeholder = letter.getAttribute("data-placeholder");
      var text = letter.getAttribute("data-template");
      letter.textContent = details ? text.split(placeholder).join(details) : text;
      var section = letter.closest("section");
      var mail = section.querySelector("[data-mailto]");
      if (mail) {
        var subject = section.querySelector("[data-letter-subject]").textContent;
        mail.href = "mailto:" + mail.getAttribute("data-mailto") +
          "?subject=" + encodeURIComponent(subject) +
          "&body=" + encodeURIComponent(letter.textContent);
      }
    });
  }

  document.querySelectorAll("[data-details]").forEach(function (input) {
    input.addEventListener("input", function () {
      document.querySelectorAll("[data-details]").forEach(function (other) {
        if (other !== input) {
          other.value = input.value;
        }
      });
      fill(input.value.trim());
    });
  });

  if (navigator.clipboard) {
    document.querySelectorAll("[data-copy-letter]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var section = button.closest("section");
        var text = section.querySelector("[data-letter-subject]").textContent + "\n\n" +
          section.querySelector("[data-letter]").textContent;
        navigator.clipboard.writeText(text).then(function () {
          var status = section.querySelector("[data-copy-status]");
          status.textContent = status.getAttribute("data-copied");
        });
      });
    });
  }
})();
