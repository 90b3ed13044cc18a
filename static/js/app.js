/* Sizes that depend on data (progress bars, timeline bars, chart heights) are written as data-*
   attributes and applied here through the CSSOM, which the Content-Security-Policy allows; an
   inline style="" attribute would be blocked (style-src has no 'unsafe-inline'). */
(function () {
  "use strict";
  function apply(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) { el.style.width = el.dataset.width + "%"; });
    root.querySelectorAll("[data-left]").forEach(function (el) { el.style.left = el.dataset.left + "%"; });
    root.querySelectorAll("[data-height]").forEach(function (el) { el.style.height = el.dataset.height + "px"; });
  }
  function autosubmit(root) {
    // <select data-autosubmit>: submits its form on change (an inline onchange="" would be blocked by the CSP)
    root.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
  }
  function demoLogins(root) {
    // the demo accounts table on the login page (SHOW_DEMO_LOGINS only): a click fills the form
    root.querySelectorAll("tr.demo-login").forEach(function (row) {
      row.addEventListener("click", function () {
        document.getElementById("id_username").value = row.dataset.username;
        document.getElementById("id_password").value = row.dataset.password;
      });
    });
  }
  window.appApplySizes = apply;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { apply(document); autosubmit(document); demoLogins(document); });
  } else {
    apply(document);
    autosubmit(document);
    demoLogins(document);
  }
})();
