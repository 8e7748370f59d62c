// A live count under the text areas marked data-count-max: the limit is already stated in
// the hint, and the server refuses a longer text with a message; this only tells the count
// while typing. The words come from the page (data-count-text, data-count-over), so they are
// in the page's language. Characters are counted as the server counts them (code points,
// blank space around the text left out).
(function () {
  "use strict";
  function update(area, output) {
    var max = parseInt(area.getAttribute("data-count-max"), 10);
    var count = Array.from(area.value.trim()).length;
    var over = count > max;
    var template = output.getAttribute(over ? "data-count-over" : "data-count-text");
    output.textContent = template
      .replace("{count}", String(count))
      .replace("{max}", String(max))
      .replace("{over}", String(count - max));
    output.classList.toggle("counter-over", over);
  }
  document.querySelectorAll("textarea[data-count-max]").forEach(function (area) {
    var output = document.getElementById(area.id + "-counter");
    if (!output) {
      return;
    }
    output.hidden = false;
    update(area, output);
    area.addEventListener("input", function () {
      update(area, output);
    });
  });
})();
