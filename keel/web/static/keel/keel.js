/* Keel — the one script of every page (the Content-Security-Policy forbids inline scripts).
 *
 * Small behaviours wired by data attributes, so pages need no script of their own:
 *   data-nav-toggle      the menu button that opens the navigation on narrow screens
 *   data-menu            a <details> menu that closes on Escape and on a click elsewhere
 *   data-dismiss         a button that removes its alert
 *   data-copy="#id"      a button that copies the value of the element #id
 *   data-confirm="…"     a form that asks before it is sent
 *   data-other-zone      a time-zone select whose "other" choice shows [data-other-zone-field]
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

  function init(root) {
    root.querySelectorAll("select[data-other-zone]").forEach(syncOtherZone);
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
