// The API Keys dialogs, beside static/js/apikeys.js (which opens and closes them): where a
// closed dialog leads. Loaded by every page that opens them. No inline scripts: the CSP allows
// only 'self'.
(function () {
  "use strict";

  // A roll from the old key's page: once its reveal closes, the new key's page replaces the old
  // one. Capturing, so this runs before apikeys.js empties the dialog on "close".
  document.addEventListener("close", function (evt) {
    var landing = evt.target.querySelector && evt.target.querySelector("[data-land-on]");
    if (landing) window.location.assign(landing.getAttribute("data-land-on"));
  }, true);
})();
