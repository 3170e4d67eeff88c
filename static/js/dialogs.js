// The API Keys dialogs, beside static/js/apikeys.js (which opens and closes them): the error
// summary's focus, the allowlist checked as it loses focus, and where a closed dialog leads.
// Loaded by every page that opens them, after apikeys.js. No inline scripts: the CSP allows
// only 'self'.
(function () {
  "use strict";

  var CONTENT_ID = "apikeys-dialog-content";

  // ----- A form sent back with errors: the focus goes to the summary of all of them (after
  // apikeys.js has focused the first refused field, so this comes last).

  function focusSummary(root) {
    var summary = root.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  }

  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.target.id === CONTENT_ID) focusSummary(evt.target);
  });

  // A summary's link moves the focus to its field, not only the scroll position.
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("[data-error-summary] a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    evt.preventDefault();
    field.focus();
  });

  // ----- The IP allowlist, checked in the browser as the field loses focus. Only a hint: the
  // server parses the list again and decides.

  var IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

  function isIPv6(text) {
    if (text.indexOf(":") === -1 || !/^[0-9A-Fa-f:.]+$/.test(text)) return false;
    try {
      new URL("http://[" + text + "]/");
      return true;
    } catch (error) {
      return false;
    }
  }

  function isNetwork(entry) {
    var parts = entry.split("/");
    if (parts.length > 2) return false;
    var v4 = IPV4.test(parts[0]);
    if (!v4 && !isIPv6(parts[0])) return false;
    if (parts.length === 1) return true;
    if (!/^\d{1,3}$/.test(parts[1])) return false;
    return Number(parts[1]) <= (v4 ? 32 : 128);
  }

  function allowlistProblem(text) {
    var wrong = text.split(/[\s,;]+/).filter(function (entry) { return entry && !isNetwork(entry); });
    if (!wrong.length) return "";
    var shown = wrong.slice(0, 3).map(function (entry) { return "“" + entry.slice(0, 50) + "”"; });
    return "Not an IP address or range: " + shown.join(", ") + ". Use addresses such as " +
      "203.0.113.7 or 2001:db8::7, or CIDR ranges such as 203.0.113.0/24.";
  }

  function showAllowlistProblem(textarea) {
    var field = textarea.closest(".field");
    var id = textarea.id + "_error";
    var message = document.getElementById(id);
    var problem = allowlistProblem(textarea.value);
    if (!problem) {
      // Gone with the problem (apikeys.js removes the server's own as soon as the text changes).
      if (message) message.remove();
      if (!field.querySelector(".field__error")) {
        field.classList.remove("field--error");
        textarea.removeAttribute("aria-invalid");
      }
      return;
    }
    if (!message) {
      message = document.createElement("p");
      message.className = "field__error";
      message.id = id;
      textarea.insertAdjacentElement("afterend", message);
    }
    message.textContent = problem;
    field.classList.add("field--error");
    textarea.setAttribute("aria-invalid", "true");
    var described = (textarea.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(id) === -1) textarea.setAttribute("aria-describedby", described.concat(id).join(" "));
  }

  document.addEventListener("focusout", function (evt) {
    if (!evt.target.matches || !evt.target.matches("textarea[name='allowed_ips']")) return;
    // Leaving for the submit button: the server's answer says it all, and a message appearing
    // now would move the button from under the pointer before the click lands.
    if (evt.relatedTarget && evt.relatedTarget.type === "submit") return;
    showAllowlistProblem(evt.target);
  });

  // ----- The create form's review follows the environment and the allowlist as they change
  // (apikeys.js keeps its scopes and expiry); the server renders the same sentences.

  function updateReview(form) {
    var environment = form.querySelector("[data-review-environment]");
    var checked = form.querySelector("input[name='environment']:checked");
    if (environment && checked) {
      environment.textContent = environment.getAttribute(checked.value === "test" ? "data-test-text" : "data-live-text");
    }
    var allowlist = form.querySelector("[data-review-allowlist]");
    var textarea = form.querySelector("textarea[name='allowed_ips']");
    if (allowlist && textarea) {
      var entries = textarea.value.split(/[\s,;]+/).filter(Boolean);
      allowlist.textContent = entries.length
        ? allowlist.getAttribute("data-some-text").replace("{addresses}", entries.join(", "))
        : allowlist.getAttribute("data-any-text");
    }
  }

  document.addEventListener("change", function (evt) {
    if (evt.target.form && evt.target.matches("input[name='environment'], textarea[name='allowed_ips']")) updateReview(evt.target.form);
  });
  document.addEventListener("input", function (evt) {
    if (evt.target.form && evt.target.matches("textarea[name='allowed_ips']")) updateReview(evt.target.form);
  });

  // ----- A roll from the old key's page: once its reveal closes, the new key's page replaces
  // the old one. Capturing, so this runs before apikeys.js empties the dialog on "close".

  document.addEventListener("close", function (evt) {
    var landing = evt.target.querySelector && evt.target.querySelector("[data-land-on]");
    if (landing) window.location.assign(landing.getAttribute("data-land-on"));
  }, true);
})();
