/* Keel — the one script of every page (the Content-Security-Policy forbids inline scripts).
 *
 * Small behaviours wired by data attributes, so pages need no script of their own:
 *   data-nav-toggle      the menu button that opens the navigation on narrow screens
 *   data-menu            a <details> menu that closes on Escape and on a click elsewhere
 *   data-dismiss         a button that removes its alert
 *   data-copy="#id"      a button that copies the value of the element #id
 *   data-confirm="…"     a form that asks before it is sent
 *   data-other-zone      a time-zone select whose "other" choice shows [data-other-zone-field]
 *   data-queue           the incident queue: j/k move, Enter opens, x ticks, / searches
 *   data-check-all       a checkbox that ticks every row of its table
 *   data-bulk            a form whose [data-bulk-count] counts the boxes ticked for it; the
 *                        attribute's value is the translated phrase, "%(n)s" standing for the number
 * Everything works without this file; it only makes the pages nicer to use.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) {
        menu.removeAttribute("open");
      }
    });
  }

  function setNav(open) {
    var shell = document.querySelector(".shell");
    var toggle = document.querySelector("[data-nav-toggle]");
    if (!shell || !toggle) {
      return;
    }
    shell.classList.toggle("nav-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) {
        resolve();
      } else {
        reject(new Error("copy failed"));
      }
    });
  }

  function syncOtherZone(select) {
    var form = select.form;
    var field = form && form.querySelector("[data-other-zone-field]");
    if (!field) {
      return;
    }
    var isOther = select.value === select.getAttribute("data-other-zone");
    field.hidden = !isOther && !field.querySelector(".has-error");
  }

  document.addEventListener("click", function (event) {
    var target = event.target;

    var toggle = target.closest("[data-nav-toggle]");
    if (toggle) {
      setNav(toggle.getAttribute("aria-expanded") !== "true");
      return;
    }

    var dismiss = target.closest("[data-dismiss]");
    if (dismiss) {
      var alert = dismiss.closest(".alert");
      if (alert) {
        var group = alert.parentElement;
        alert.remove();
        if (group && group.classList.contains("alerts") && !group.children.length) {
          group.remove();
        }
      }
      return;
    }

    var copy = target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source) {
        return;
      }
      var label = copy.textContent;
      copyText(source.value || source.textContent).then(
        function () {
          copy.textContent = copy.getAttribute("data-copied-label") || label;
          window.setTimeout(function () {
            copy.textContent = label;
          }, 2000);
        },
        function () {
          source.focus();
          if (source.select) {
            source.select();
          }
        }
      );
      return;
    }

    var menu = target.closest("details[data-menu]");
    closeMenus(menu);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var open = document.querySelector("details[data-menu][open]");
    if (open) {
      open.removeAttribute("open");
      var summary = open.querySelector("summary");
      if (summary) {
        summary.focus();
      }
    }
    setNav(false);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-other-zone]")) {
      syncOtherZone(event.target);
      if (!event.target.form.querySelector("[data-other-zone-field]").hidden) {
        var input = event.target.form.querySelector("[data-other-zone-field] input");
        if (input) {
          input.focus();
        }
      }
    }
  });

  // --- the incident queue ----------------------------------------------------------------

  // Boxes, radios and buttons take no text: a key pressed while one has the focus (after a
  // click on a row's checkbox, say) is still a shortcut of the queue.
  var UNTYPED_INPUTS = ["checkbox", "radio", "button", "submit", "reset", "image"];

  function isTyping(element) {
    if (!element) {
      return false;
    }
    var tag = element.tagName;
    if (tag === "INPUT") {
      return UNTYPED_INPUTS.indexOf((element.getAttribute("type") || "text").toLowerCase()) < 0;
    }
    return tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function queueRows() {
    var table = document.querySelector("table[data-queue]");
    return table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-href]")) : [];
  }

  function moveCurrent(step) {
    var rows = queueRows();
    if (!rows.length) {
      return;
    }
    // From the row that has the focus (a ticked box, say), else from the marked one.
    var index = rows.indexOf(currentRow());
    var next = index < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, index + step));
    rows.forEach(function (row) {
      row.classList.remove("is-current");
    });
    rows[next].classList.add("is-current");
    var link = rows[next].querySelector("a.row-link");
    if (link) {
      link.focus({ preventScroll: true });
    }
    rows[next].scrollIntoView({ block: "nearest" });
  }

  function currentRow() {
    var rows = queueRows();
    var active = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("tr[data-href]")
      : null;
    return active || rows.find(function (row) {
      return row.classList.contains("is-current");
    });
  }

  function syncBulk() {
    var form = document.querySelector("form[data-bulk]");
    if (!form) {
      return;
    }
    var ticked = document.querySelectorAll('input[type="checkbox"][form="' + form.id + '"]:checked').length;
    var count = form.querySelector("[data-bulk-count]");
    if (count) {
      // One translated phrase with the number in its place ("2 selected", "已选 2 个").
      var phrase = count.getAttribute("data-bulk-count") || "%(n)s";
      count.textContent = phrase.replace("%(n)s", String(ticked));
    }
    form.classList.toggle("has-selection", ticked > 0);
    var all = document.querySelector("[data-check-all]");
    if (all) {
      var boxes = document.querySelectorAll('input[type="checkbox"][form="' + form.id + '"]');
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (!document.querySelector("table[data-queue]") && event.key !== "/") {
      return;
    }
    if (isTyping(event.target)) {
      if (event.key === "Escape" && event.target.matches("[data-search]")) {
        event.target.blur();
      }
      return;
    }
    var search = document.querySelector("[data-search]");
    var inQueue = event.target === document.body || Boolean(event.target.closest && event.target.closest("table[data-queue]"));
    if (event.key === "/" && search) {
      event.preventDefault();
      search.focus();
      search.select();
    } else if (!inQueue) {
      return;
    } else if (event.key === "j" || (event.key === "ArrowDown" && event.target !== document.body)) {
      event.preventDefault();
      moveCurrent(1);
    } else if (event.key === "k" || (event.key === "ArrowUp" && event.target !== document.body)) {
      event.preventDefault();
      moveCurrent(-1);
    } else if (event.key === "Enter") {
      var row = currentRow();
      if (row && !(event.target.closest && event.target.closest("a, button"))) {
        event.preventDefault();
        window.location.href = row.getAttribute("data-href");
      }
    } else if (event.key === "x") {
      var current = currentRow();
      var box = current && current.querySelector('input[type="checkbox"]');
      if (box) {
        event.preventDefault();
        box.checked = !box.checked;
        syncBulk();
      }
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-check-all]")) {
      var form = document.querySelector("form[data-bulk]");
      if (form) {
        document.querySelectorAll('input[type="checkbox"][form="' + form.id + '"]').forEach(function (box) {
          box.checked = target.checked;
        });
      }
      syncBulk();
    } else if (target.matches && target.matches('input[type="checkbox"][form]')) {
      syncBulk();
    }
  });

  // The search box filters as it is typed; its "change" on leaving it would only ask again (and
  // redraw the table, losing the ticks), so it stops here instead of reaching the filter form.
  function quietSearch(root) {
    root.querySelectorAll("[data-search]").forEach(function (input) {
      if (!input.hasAttribute("data-quiet")) {
        input.setAttribute("data-quiet", "");
        input.addEventListener("change", function (event) {
          event.stopPropagation();
        });
      }
    });
  }

  function init(root) {
    quietSearch(root);
    root.querySelectorAll("select[data-other-zone]").forEach(syncOtherZone);
    syncBulk();
    var reveal = root.querySelector(".token-reveal input[readonly]");
    if (reveal) {
      reveal.addEventListener("focus", function () {
        reveal.select();
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init(document);
    });
  } else {
    init(document);
  }
  // Fragments swapped in by htmx get the same behaviours.
  document.addEventListener("htmx:load", function (event) {
    init(event.target);
  });
})();
