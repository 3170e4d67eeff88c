// Settings -> API Keys: the create/revoke dialog, the live scope review, Copy, the reveal's tabs,
// and the guard that asks before an uncopied key or a half-filled form is closed.
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
    root.querySelectorAll("[data-tablist]").forEach(enhanceTabs);
  }

  // ----- Tabs (the reveal's Verify it works): the WAI-ARIA tabs pattern, activated on focus.
  // Without JavaScript the tab list stays hidden and every panel shows, under its own title.

  function selectTab(tab, focus) {
    var list = tab.closest("[data-tablist]");
    list.querySelectorAll('[role="tab"]').forEach(function (other) {
      var selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    });
    if (focus) tab.focus();
  }

  function enhanceTabs(list) {
    list.hidden = false;
    list.parentElement.querySelectorAll("[data-tab-title]").forEach(function (title) { title.hidden = true; });
    selectTab(list.querySelector('[aria-selected="true"]'), false);
  }

  function onTabKey(evt) {
    var tab = evt.target.closest('[role="tab"]');
    if (!tab) return;
    var tabs = Array.prototype.slice.call(tab.closest("[data-tablist]").querySelectorAll('[role="tab"]'));
    var index = tabs.indexOf(tab);
    var next = {
      ArrowRight: tabs[(index + 1) % tabs.length],
      ArrowLeft: tabs[(index - 1 + tabs.length) % tabs.length],
      Home: tabs[0],
      End: tabs[tabs.length - 1]
    }[evt.key];
    if (!next) return;
    evt.preventDefault();
    selectTab(next, true);
  }

  document.addEventListener("keydown", onTabKey);

  // ----- The usage chart's days: one tab stop, the arrows move from day to day (its tooltip
  // follows the focus), as in a toolbar.

  function onChartKey(evt) {
    var day = evt.target.closest && evt.target.closest("[data-chart-days] > li");
    if (!day) return;
    var days = Array.prototype.slice.call(day.parentElement.children);
    var index = days.indexOf(day);
    var next = {
      ArrowRight: days[Math.min(index + 1, days.length - 1)],
      ArrowLeft: days[Math.max(index - 1, 0)],
      Home: days[0],
      End: days[days.length - 1]
    }[evt.key];
    if (!next) return;
    evt.preventDefault();
    day.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }

  document.addEventListener("keydown", onChartKey);

  // ----- A key's ⋯ menu (the WAI-ARIA menu button): Enter, Space or the arrows open it, the
  // arrows move, Esc closes it and gives the focus back, Tab or a click elsewhere closes it.
  // Choosing an item leaves the focus on ⋯, so the dialog it opens gives it back there.

  document.documentElement.classList.add("js-menus");

  function menuOf(button) { return document.getElementById(button.getAttribute("aria-controls")); }
  function menuItems(menu) { return Array.prototype.slice.call(menu.querySelectorAll('[role="menuitem"]')); }
  function buttonOf(menu) { return document.getElementById(menu.getAttribute("aria-labelledby")); }

  function closeMenus(except) {
    document.querySelectorAll('[data-menu-button][aria-expanded="true"]').forEach(function (button) {
      if (button === except) return;
      button.setAttribute("aria-expanded", "false");
      menuOf(button).hidden = true;
    });
  }

  function openMenu(button, last) {
    closeMenus(button);
    var menu = menuOf(button);
    button.setAttribute("aria-expanded", "true");
    menu.hidden = false;
    var items = menuItems(menu);
    items[last ? items.length - 1 : 0].focus();
  }

  function closeMenu(menu, focusButton) {
    var button = buttonOf(menu);
    button.setAttribute("aria-expanded", "false");
    menu.hidden = true;
    if (focusButton) button.focus();
  }

  function onMenuKey(evt) {
    var target = evt.target;
    if (!target.closest) return;
    var button = target.closest("[data-menu-button]");
    if (button && (evt.key === "ArrowDown" || evt.key === "ArrowUp")) {
      evt.preventDefault();
      openMenu(button, evt.key === "ArrowUp");
      return;
    }
    var menu = target.closest('[role="menu"]');
    if (!menu) return;
    var items = menuItems(menu);
    var index = items.indexOf(target);
    var next = {
      ArrowDown: items[(index + 1) % items.length],
      ArrowUp: items[(index - 1 + items.length) % items.length],
      Home: items[0],
      End: items[items.length - 1]
    }[evt.key];
    if (next) {
      evt.preventDefault();
      next.focus();
    } else if (evt.key === "Escape") {
      evt.preventDefault();
      closeMenu(menu, true);
    } else if (evt.key === "Tab") {
      // Back on ⋯ first, so Tab goes on from the row, not from the top of the page.
      closeMenu(menu, true);
    }
  }

  document.addEventListener("keydown", onMenuKey);

  function onMenuClick(target) {
    var button = target.closest("[data-menu-button]");
    if (button) {
      if (button.getAttribute("aria-expanded") === "true") {
        closeMenu(menuOf(button), true);
      } else {
        openMenu(button, false);
      }
      return true;
    }
    var item = target.closest('[role="menuitem"]');
    if (item) {
      // htmx has already sent the item's request (its own listener ran first).
      closeMenu(item.closest('[role="menu"]'), true);
      return true;
    }
    closeMenus(null);
    return false;
  }

  // ----- Live / Test: the list shows the keys of one environment, or all of them; the choice
  // outlives the list's reloads.

  var environment = "";

  function applyFilter() {
    var filter = document.querySelector("[data-env-filter]");
    if (!filter) return;
    filter.hidden = false;
    filter.querySelectorAll("[data-env]").forEach(function (option) {
      option.setAttribute("aria-pressed", option.getAttribute("data-env") === environment ? "true" : "false");
    });
    document.querySelectorAll("tr[data-environment]").forEach(function (row) {
      row.hidden = environment !== "" && row.getAttribute("data-environment") !== environment;
    });
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

  // ----- Closing, with the guard that asks first: before an uncopied key vanishes, or what was
  // typed into the create form.

  var guardReturn = null;

  function reveal() {
    var box = content();
    return box && box.querySelector("[data-reveal]");
  }

  function selectChanged(select) {
    // With no option marked selected, the browser starts on the first one.
    var initial = 0;
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].defaultSelected) { initial = i; break; }
    }
    return select.selectedIndex !== initial;
  }

  function hasChanges(form) {
    if (form.hasAttribute("data-has-input")) return true;
    return Array.prototype.some.call(form.elements, function (element) {
      if (element.type === "checkbox" || element.type === "radio") return element.checked !== element.defaultChecked;
      if (element.tagName === "SELECT") return selectChanged(element);
      if (element.tagName === "TEXTAREA" || (element.tagName === "INPUT" && element.type !== "hidden")) {
        return element.value !== element.defaultValue;
      }
      return false;
    });
  }

  function needsGuard() {
    var shown = reveal();
    if (shown) return shown.getAttribute("data-copied") !== "true";
    var form = content() && content().querySelector("[data-confirm-discard]");
    return Boolean(form) && hasChanges(form);
  }

  function setGuard(visible) {
    var box = content();
    box.querySelector("[data-close-guard]").hidden = !visible;
    box.querySelector("[data-dialog-actions]").hidden = visible;
    if (visible) {
      guardReturn = document.activeElement;
      box.querySelector("[data-guard-back]").focus();
      return;
    }
    // Back to the field the person was in; the reveal goes back to its Copy button.
    var target = guardReturn;
    guardReturn = null;
    if (reveal() || !target || !box.contains(target) || target.closest("[data-dialog-close]")) {
      focusInitial(box);
    } else {
      target.focus();
    }
  }

  function guardVisible() {
    var box = content();
    var guard = box && box.querySelector("[data-close-guard]");
    return Boolean(guard) && !guard.hidden;
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
    guardReturn = null;
    // The browser may have given the focus back already, and the person moved on (opened a
    // key's menu): only a focus left nowhere, or in the closed dialog, goes back to the opener.
    var active = document.activeElement;
    var lost = !active || active === document.body || dialog().contains(active);
    if (opener && opener.isConnected && lost) opener.focus();
    opener = null;
    if (refresh) htmx.trigger(document.body, KEYS_CHANGED);
  }

  // ----- Copy: the clipboard API, or the text selected for copying by hand.

  function markCopied(element) {
    var shown = element.closest("[data-reveal]");
    if (shown) shown.setAttribute("data-copied", "true");
  }

  function textOf(source) {
    // A field's value, or a code block's text (without the markup).
    return source.value !== undefined ? source.value : source.textContent;
  }

  function selectText(source) {
    source.focus();
    if (source.select) {
      source.select();
    } else {
      window.getSelection().selectAllChildren(source);
    }
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
      selectText(source);
      if (fallback && source.id === "new-api-key") fallback.hidden = false;
      if (status) status.textContent = "Copying isn't available here. The text is selected: press Ctrl+C to copy it.";
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(textOf(source)).then(copied, selectByHand);
    } else {
      selectByHand();
    }
  }

  // Copying the key by hand (Ctrl+C, the context menu) counts as copying it.
  document.addEventListener("copy", function (evt) {
    if (evt.target && evt.target.closest && evt.target.closest("[data-reveal]")) markCopied(evt.target);
  });

  // ----- A server error goes as soon as its field changes: the message, the red border, and
  // the ARIA that pointed at them. (The classes are the state the server rendered.)

  function clearServerError(control) {
    var field = control.closest && control.closest(".field--error");
    if (!field) return;
    field.classList.remove("field--error");
    field.querySelectorAll(".field__error").forEach(function (message) {
      field.querySelectorAll("[aria-describedby]").forEach(function (element) {
        var ids = element.getAttribute("aria-describedby").split(" ").filter(function (id) {
          return id && id !== message.id;
        });
        if (ids.length) {
          element.setAttribute("aria-describedby", ids.join(" "));
        } else {
          element.removeAttribute("aria-describedby");
        }
      });
      message.remove();
    });
    field.querySelectorAll('[aria-invalid="true"]').forEach(function (element) {
      element.removeAttribute("aria-invalid");
    });
  }

  document.addEventListener("input", function (evt) { clearServerError(evt.target); });

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
    clearServerError(evt.target);
    if (evt.target.matches("[data-scope-checkbox]")) updateReview(evt.target.form);
    if (evt.target.matches("[data-expiration], [data-custom-date] input")) updateExpiry(evt.target.form);
  });

  // ----- Clicks, and the list that reloads after a change.

  document.addEventListener("click", function (evt) {
    var target = evt.target.closest ? evt.target : evt.target.parentElement;
    if (onMenuClick(target)) return;
    if (target.closest("[data-env]")) {
      environment = target.closest("[data-env]").getAttribute("data-env");
      applyFilter();
    } else if (target.closest("[data-copy]")) {
      copyFrom(target.closest("[data-copy]"));
    } else if (target.closest("[data-dialog-close]")) {
      requestClose();
    } else if (target.closest("[data-guard-back]")) {
      setGuard(false);
    } else if (target.closest('[role="tab"]')) {
      selectTab(target.closest('[role="tab"]'), true);
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
    if (evt.target.id === "key-area") applyFilter();
    if (evt.target.id === "key-area" && (document.activeElement === document.body || !document.activeElement)) {
      var heading = document.getElementById("active-keys-title");
      if (heading) heading.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    applyFilter();
    var box = dialog();
    if (!box) return;
    box.addEventListener("keydown", onEscape);
    box.addEventListener("cancel", onCancel);
    box.addEventListener("close", onClose);
  });
})();
