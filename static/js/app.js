// Shell behaviour shared by every signed-in page. No inline scripts: the CSP allows only 'self'.
(function () {
  "use strict";

  function initAccountSwitcher() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      var form = select.form;
      var fallback = form.querySelector("[data-autosubmit-fallback]");
      if (fallback) fallback.hidden = true;
      select.addEventListener("change", function () { form.requestSubmit(); });
    });
  }

  function initSidebarToggle() {
    var toggle = document.querySelector("[data-sidebar-toggle]");
    var sidebar = document.getElementById("sidebar");
    if (!toggle || !sidebar) return;
    toggle.addEventListener("click", function () {
      var open = sidebar.classList.toggle("sidebar--open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initAccountSwitcher();
    initSidebarToggle();
  });
})();
