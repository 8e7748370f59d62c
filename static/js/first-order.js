// The first signatories' order (workspace): drag a name by its handle to move it; on drop,
// the whole new order is saved with one POST (the page's hidden form), and the page comes
// back with it. Pointer events, so that a mouse, a pen and a finger all work. The "Move up"
// and "Move down" buttons stay: the keyboard's way, and the way without JavaScript.
(function () {
  "use strict";
  var list = document.getElementById("first-order-list");
  var form = document.getElementById("first-order-form");
  var input = document.getElementById("first-order");
  if (!list || !form || !input) {
    return;
  }
  var help = document.getElementById("first-order-help");
  var status = document.getElementById("first-order-status");
  var dragged = null;
  var before = "";

  function currentOrder() {
    return Array.prototype.map.call(list.children, function (item) {
      return item.getAttribute("data-id");
    }).join(",");
  }

  function finish(save) {
    if (!dragged) {
      return;
    }
    dragged.classList.remove("dragging");
    list.classList.remove("is-dragging");
    dragged = null;
    var order = currentOrder();
    if (!save || order === before) {
      return;
    }
    input.value = order;
    if (status) {
      status.textContent = status.getAttribute("data-saving");
    }
    form.submit();
  }

  list.classList.add("sortable");
  if (help) {
    help.hidden = false;
  }

  list.addEventListener("pointerdown", function (event) {
    var handle = event.target.closest(".first-order-handle");
    if (!handle || event.button !== 0 || dragged) {
      return;
    }
    event.preventDefault();
    dragged = handle.closest("li");
    before = currentOrder();
    dragged.classList.add("dragging");
    list.classList.add("is-dragging");
    handle.setPointerCapture(event.pointerId);
  });

  list.addEventListener("pointermove", function (event) {
    if (!dragged) {
      return;
    }
    // Near the window's top or bottom edge, scroll: a long list on a phone.
    if (event.clientY < 48) {
      window.scrollBy(0, -16);
    } else if (event.clientY > window.innerHeight - 48) {
      window.scrollBy(0, 16);
    }
    // The dragged name goes before the first other name whose middle is below the pointer,
    // or last.
    var next = null;
    for (var i = 0; i < list.children.length; i += 1) {
      var item = list.children[i];
      if (item === dragged) {
        continue;
      }
      var box = item.getBoundingClientRect();
      if (event.clientY < box.top + box.height / 2) {
        next = item;
        break;
      }
    }
    if (next !== dragged.nextElementSibling || (next === null && list.lastElementChild !== dragged)) {
      list.insertBefore(dragged, next);
    }
  });

  list.addEventListener("pointerup", function () {
    finish(true);
  });
  list.addEventListener("pointercancel", function () {
    // Put it back: a cancelled drag (a scroll took over) saves nothing.
    if (dragged) {
      var ids = before.split(",");
      ids.forEach(function (id) {
        list.appendChild(document.getElementById("first-" + id));
      });
    }
    finish(false);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && dragged) {
      list.dispatchEvent(new Event("pointercancel"));
    }
  });
})();
