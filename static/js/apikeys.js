// Settings -> API Keys: the create/revoke dialog, the live scope review, Copy and the copy guard.
// htmx fetches each dialog's content into #apikeys-dialog-content; this file opens, focuses and
// closes the native <dialog> around it. No inline scripts: the CSP allows only 'self'.
(function () {
  "use strict";

  var CONTENT_ID = "apikeys-dialog-content";
  // Refusals (403), an already-used form (409), form errors (422) and the sign-in lockout of the
  // password confirmation (429) are dialog content too.
  var SWAPPABLE_STATUSES = [403, 409, 422, 429];
  var KEYS_CHANGED = "keysChanged";

  var opener = null;
  var escapeHandled = false;

  function dialog() { return document.getElementById("apikeys-dialog"); }
  function content() { return document.getElementById(CONTENT_ID); }

  function enhance(root) {
    // Copy needs JavaScript; without it the key is selectable text in a read-only field.
    root.querySelectorAll("[data-copy]").forEach(function (button) { button.hidden = false; });
    // Without JavaScript the date field is always there; with it, only for "Custom date".
    root.querySelectorAll("[data-initially-hidden]").forEach(function (element) { element.hidden = true; });
  }

  function focusInitial(root) {
    var target = root.querySelector('[aria-invalid="true"]') || root.querySelector("[data-autofocus]");
    if (target) target.focus();
  }

  // ----- Opening: htmx swapped new content into the dialog.

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    var landed = evt.detail.xhr.responseURL ? new URL(evt.detail.xhr.responseURL) : null;
    if (landed && landed.pathname === "/login/") {
      // The session ended meanwhile: show the login page as a page, not inside the dialog.
      evt.detail.shouldSwap = false;
      window.location.assign(landed.href);
      return;
    }
    if (target && target.id === CONTENT_ID && SWAPPABLE_STATUSES.indexOf(evt.detail.xhr.status) !== -1) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.target.id !== CONTENT_ID) return;
    var box = dialog();
    enhance(evt.target);
    if (!box.open) {
      opener = document.activeElement;
      box.showModal();
    }
    focusInitial(evt.target);
  });

  // ----- Closing, with the guard that keeps an uncopied key from vanishing by accident.

  function reveal() {
    var box = content();
    return box && box.querySelector("[data-reveal]");
  }

  function needsGuard() {
    var shown = reveal();
    return Boolean(shown) && shown.getAttribute("data-copied") !== "true";
  }

  function setGuard(visible) {
    var shown = reveal();
    shown.querySelector("[data-close-guard]").hidden = !visible;
    shown.querySelector("[data-reveal-actions]").hidden = visible;
    if (visible) {
      shown.querySelector("[data-guard-back]").focus();
    } else {
      focusInitial(shown);
    }
  }

  function guardVisible() {
    var shown = reveal();
    return Boolean(shown) && !shown.querySelector("[data-close-guard]").hidden;
  }

  function requestClose() {
    if (needsGuard()) {
      setGuard(true);
    } else {
      dialog().close();
    }
  }

  function onEscape(evt) {
    if (evt.key !== "Escape") return;
    escapeHandled = false;
    if (guardVisible()) {
      // Esc backs out of the question, to the key.
      evt.preventDefault();
      escapeHandled = true;
      setGuard(false);
    } else if (needsGuard()) {
      evt.preventDefault();
      escapeHandled = true;
      setGuard(true);
    }
  }

  function onCancel(evt) {
    // The browser's own close request (Esc, a back gesture): ask first, as the Done button does.
    if (escapeHandled) {
      escapeHandled = false;
      evt.preventDefault();
    } else if (needsGuard()) {
      evt.preventDefault();
      setGuard(true);
    }
  }

  function onClose() {
    var box = content();
    var refresh = Boolean(box.querySelector("[data-refresh-on-close]"));
    // Drop the dialog's content, and with it the secret, as soon as the dialog is gone.
    box.innerHTML = "";
    if (opener && opener.isConnected) opener.focus();
    opener = null;
    if (refresh) htmx.trigger(document.body, KEYS_CHANGED);
  }

  // ----- Copy: the clipboard API, or the text selected for copying by hand.

  function markCopied(element) {
    var shown = element.closest("[data-reveal]");
    if (shown) shown.setAttribute("data-copied", "true");
  }

  function copyFrom(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var root = button.closest("[data-reveal]") || document;
    var fallback = root.querySelector("[data-copy-fallback]");
    var status = root.querySelector("[data-copy-status]");
    function copied() {
      button.textContent = button.getAttribute("data-copied-label");
      if (fallback) fallback.hidden = true;
      if (status) status.textContent = button.getAttribute("data-copied-label") + " to the clipboard.";
      markCopied(button);
    }
    function selectByHand() {
      source.focus();
      source.select();
      if (fallback && source.id === "new-api-key") fallback.hidden = false;
      if (status) status.textContent = "Copying isn't available here. The text is selected: press Ctrl+C to copy it.";
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(source.value).then(copied, selectByHand);
    } else {
      selectByHand();
    }
  }

  // Copying the key by hand (Ctrl+C, the context menu) counts as copying it.
  document.addEventListener("copy", function (evt) {
    if (evt.target && evt.target.closest && evt.target.closest("[data-reveal]")) markCopied(evt.target);
  });

  // ----- The plain-words review follows the ticked scopes.

  function updateReview(form) {
    var any = false;
    form.querySelectorAll("[data-scope-checkbox]").forEach(function (box) {
      var item = form.querySelector('[data-review-item="' + box.value + '"]');
      if (item) item.hidden = !box.checked;
      any = any || box.checked;
    });
    form.querySelector("[data-review-none]").hidden = any;
    form.querySelector("[data-review-some]").hidden = !any;
  }

  // ----- Expiration: the custom date, the no-expiry warning and the review sentence.

  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  function dateInWords(value) {
    // The date input's value is YYYY-MM-DD; no Date parsing, so no time-zone shift.
    var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!parts) return "";
    return Number(parts[3]) + " " + MONTHS[Number(parts[2]) - 1] + " " + parts[1];
  }

  function updateExpiry(form) {
    var select = form.querySelector("[data-expiration]");
    if (!select) return;
    var choice = select.value;
    var custom = form.querySelector("[data-custom-date]");
    var dateInput = custom.querySelector("input");
    custom.hidden = choice !== "custom";
    form.querySelector("[data-no-expiry-warning]").hidden = choice !== "never";
    var review = form.querySelector("[data-review-expiry]");
    if (choice === "custom") {
      var words = dateInWords(dateInput.value);
      review.textContent = words ? "Expires on " + words + "." : "Pick the date the key should expire on.";
    } else {
      review.textContent = select.options[select.selectedIndex].getAttribute("data-expires-text") + ".";
    }
  }

  document.addEventListener("change", function (evt) {
    if (!evt.target.matches) return;
    if (evt.target.matches("[data-scope-checkbox]")) updateReview(evt.target.form);
    if (evt.target.matches("[data-expiration], [data-custom-date] input")) updateExpiry(evt.target.form);
  });

  // ----- Clicks, and the list that reloads after a change.

  document.addEventListener("click", function (evt) {
    var target = evt.target.closest ? evt.target : evt.target.parentElement;
    if (target.closest("[data-copy]")) {
      copyFrom(target.closest("[data-copy]"));
    } else if (target.closest("[data-dialog-close]")) {
      requestClose();
    } else if (target.closest("[data-guard-back]")) {
      setGuard(false);
    } else if (target.closest("[data-guard-close]")) {
      dialog().close();
    }
  });

  document.addEventListener(KEYS_CHANGED, function () {
    // A revoke succeeded: the server says so with an HX-Trigger header.
    var box = dialog();
    if (box && box.open) box.close();
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    // htmx keeps focus on an element whose id survives the reload; when the focused button is
    // gone (its key was revoked), the list's heading takes focus rather than the page body.
    if (evt.target.id === "key-area" && (document.activeElement === document.body || !document.activeElement)) {
      var heading = document.getElementById("active-keys-title");
      if (heading) heading.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    var box = dialog();
    if (!box) return;
    box.addEventListener("keydown", onEscape);
    box.addEventListener("cancel", onCancel);
    box.addEventListener("close", onClose);
  });
})();
