// Shell behaviour shared by every signed-in page. No inline scripts: the CSP allows only 'self'.
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 820px)");
  var FOCUSABLE = "a[href], button:not([disabled]), select:not([disabled]), input:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function initAccountSwitcher() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      var form = select.form;
      var fallback = form.querySelector("[data-autosubmit-fallback]");
      if (fallback) fallback.hidden = true;
      select.addEventListener("change", function () { form.requestSubmit(); });
    });
  }

  // The sidebar as a drawer on narrow screens. Without JavaScript the Menu and Close links
  // open and close it through #sidebar and :target; here they become buttons that also keep
  // the focus inside the open drawer, close it on Esc and give the focus back to Menu.
  function initDrawer() {
    var sidebar = document.getElementById("sidebar");
    var opener = document.querySelector("[data-sidebar-open]");
    var page = document.querySelector(".main-column");
    if (!sidebar || !opener || !page) return;
    var closers = document.querySelectorAll("[data-sidebar-close]");
    document.documentElement.classList.add("js-drawer");

    [opener].concat(Array.prototype.slice.call(closers)).forEach(function (control) {
      if (control.tagName !== "A") return;
      control.setAttribute("role", "button");
      control.addEventListener("keydown", function (event) {
        if (event.key === " ") { event.preventDefault(); control.click(); }
      });
    });
    opener.setAttribute("aria-expanded", "false");

    function isOpen() { return sidebar.classList.contains("sidebar--open"); }

    function focusables() {
      return Array.prototype.filter.call(sidebar.querySelectorAll(FOCUSABLE), function (element) {
        return !element.hidden && element.getClientRects().length > 0;
      });
    }

    function open() {
      sidebar.classList.add("sidebar--open");
      opener.setAttribute("aria-expanded", "true");
      page.inert = true;
      sidebar.querySelector("[data-sidebar-close]").focus();
    }

    function close(returnFocus) {
      if (!isOpen()) return;
      sidebar.classList.remove("sidebar--open");
      opener.setAttribute("aria-expanded", "false");
      page.inert = false;
      if (returnFocus) opener.focus();
    }

    opener.addEventListener("click", function (event) {
      event.preventDefault();
      open();
    });
    closers.forEach(function (closer) {
      closer.addEventListener("click", function (event) {
        event.preventDefault();
        close(true);
      });
    });
    document.addEventListener("keydown", function (event) {
      if (!isOpen()) return;
      if (event.key === "Escape") {
        event.preventDefault();
        close(true);
      } else if (event.key === "Tab") {
        var items = focusables();
        var first = items[0];
        var last = items[items.length - 1];
        if (event.shiftKey && document.activeElement === first) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && document.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      }
    });
    // Widened past the drawer's breakpoint: the sidebar is in the page again.
    NARROW.addEventListener("change", function () { if (!NARROW.matches) close(false); });
    if (window.location.hash === "#sidebar" && NARROW.matches) open();
  }

  // Messages (templates/_messages.html): already announced by the live region they land in;
  // here they get a Dismiss button, successes and notes go after MESSAGE_MS (not while the
  // pointer or the focus is on them), and the key they name lights up in the list.
  var MESSAGE_MS = 6000;
  var HIGHLIGHT_MS = 4000;

  function removeMessage(message) {
    var hadFocus = message.contains(document.activeElement);
    message.remove();
    if (hadFocus) document.getElementById("main").focus();
  }

  function autohide(message) {
    var timer = null;
    function start() { timer = window.setTimeout(function () { removeMessage(message); }, MESSAGE_MS); }
    function stop() { window.clearTimeout(timer); }
    message.addEventListener("mouseenter", stop);
    message.addEventListener("focusin", stop);
    message.addEventListener("mouseleave", start);
    message.addEventListener("focusout", function (event) {
      if (!message.contains(event.relatedTarget)) start();
    });
    start();
  }

  function highlight(id) {
    var row = document.getElementById(id);
    if (!row) return;
    row.classList.add("key-row--changed");
    window.setTimeout(function () { row.classList.remove("key-row--changed"); }, HIGHLIGHT_MS);
  }

  function initMessages() {
    document.querySelectorAll("[data-message]:not([data-message-ready])").forEach(function (message) {
      message.setAttribute("data-message-ready", "");
      var dismiss = message.querySelector("[data-dismiss-message]");
      dismiss.hidden = false;
      dismiss.addEventListener("click", function () { removeMessage(message); });
      if (message.hasAttribute("data-autohide")) autohide(message);
      if (message.getAttribute("data-highlight")) highlight(message.getAttribute("data-highlight"));
    });
  }

  // After an htmx reload the messages arrive out of band, with the list they are about.
  document.addEventListener("htmx:afterSettle", initMessages);

  document.addEventListener("DOMContentLoaded", function () {
    initAccountSwitcher();
    initDrawer();
    initMessages();
  });
})();
