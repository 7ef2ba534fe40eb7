// inovasi web: a little behaviour on top of pages that work without it. Loaded from this
// site only (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Forms that change something irreversible ask first (data-confirm="question").
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // A secret shown once: selected on focus, and a button that copies it.
  document.querySelectorAll("[data-select-all]").forEach(function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentElement.querySelector("[data-copy-status]");
    if (!field || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        if (status) { status.textContent = "Tersalin."; }
      }, function () {
        field.focus();
        if (status) { status.textContent = "Salin manual: teks sudah dipilih."; }
      });
    });
  });

  // On a narrow screen the menu folds behind a button.
  var toggle = document.querySelector(".menu-toggle");
  var nav = document.getElementById("menu-utama");
  if (toggle && nav) {
    var narrow = window.matchMedia("(max-width: 40rem)");
    var apply = function () {
      toggle.hidden = !narrow.matches;
      var open = !narrow.matches || toggle.getAttribute("aria-expanded") === "true";
      nav.classList.toggle("collapsed", !open);
    };
    toggle.addEventListener("click", function () {
      toggle.setAttribute("aria-expanded", toggle.getAttribute("aria-expanded") === "true" ? "false" : "true");
      apply();
    });
    narrow.addEventListener("change", apply);
    apply();
  }
})();
