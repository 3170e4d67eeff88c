// Passkeys (WebAuthn): adding one on Settings -> Security, and using one to sign in, for the
// second step of sign-in and for sudo mode. Each ceremony is two JSON posts to the URLs in the
// element's data- attributes (accounts/twofactor/passkey_views.py): the options, then the
// browser's answer; the server answers {"redirect": url} or {"error": {"code", "message"}}.
// Several templates include this file; it sets itself up once.
(function () {
  "use strict";

  if (window.voxkeysPasskeys) return;
  window.voxkeysPasskeys = true;

  var SUPPORTED = Boolean(window.PublicKeyCredential && navigator.credentials);
  var BROWSER_ERRORS = {
    NotAllowedError: "The passkey prompt was closed or timed out. Try again.",
    AbortError: "The passkey prompt was closed or timed out. Try again.",
    InvalidStateError: "This passkey is already registered.",
    SecurityError: "Passkeys don't work on this address. Open the site by its name (such as localhost) over HTTPS.",
    NotSupportedError: "This browser or security key doesn't support the kind of passkey this site asks for."
  };
  var UNREADABLE = "Something went wrong. Reload the page and try again.";

  // The page's CSRF token: base.html gives it to htmx on <body>; forms carry it as an input.
  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
    } catch (error) { /* fall through to the form field */ }
    var input = document.querySelector("input[name='csrfmiddlewaretoken']");
    return input ? input.value : "";
  }

  function ServerRefusal(error) {
    this.message = (error && error.message) || UNREADABLE;
    this.confirmUrl = error && error.confirm_url;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return { error: null }; }).then(function (data) {
        if (!response.ok || !data || data.error !== undefined) throw new ServerRefusal(data && data.error);
        return data;
      });
    });
  }

  // base64url <-> ArrayBuffer, for browsers without the JSON helpers of WebAuthn level 3.
  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBufferIds(descriptors) {
    return (descriptors || []).map(function (descriptor) {
      return Object.assign({}, descriptor, { id: toBuffer(descriptor.id) });
    });
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: withBufferIds(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: withBufferIds(json.allowCredentials)
    });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
    }
    return json;
  }

  function run(element, button, ceremony) {
    var status = element.querySelector("[data-passkey-status]");
    status.textContent = "";
    button.disabled = true;
    ceremony().then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (error) {
      button.disabled = false;
      if (error instanceof ServerRefusal && error.confirmUrl) {
        window.location.assign(error.confirmUrl);
        return;
      }
      status.textContent = BROWSER_ERRORS[error && error.name] || (error instanceof ServerRefusal ? error.message : UNREADABLE);
    });
  }

  function register(form) {
    var button = form.querySelector("button[type='submit']");
    run(form, button, function () {
      return post(form.dataset.optionsUrl, { name: form.elements.name.value })
        .then(function (options) { return navigator.credentials.create({ publicKey: creationOptions(options) }); })
        .then(function (credential) { return post(form.dataset.verifyUrl, { credential: credentialJSON(credential) }); });
    });
  }

  function authenticate(element, button) {
    run(element, button, function () {
      return post(element.dataset.optionsUrl, {})
        .then(function (options) { return navigator.credentials.get({ publicKey: requestOptions(options) }); })
        .then(function (credential) {
          return post(element.dataset.verifyUrl, { credential: credentialJSON(credential), next: element.dataset.next || "" });
        });
    });
  }

  function reveal(root) {
    if (!SUPPORTED) return;
    root.querySelectorAll("[data-passkey-register], [data-passkey-ceremony]").forEach(function (element) {
      element.hidden = false;
    });
    root.querySelectorAll("[data-passkey-unsupported]").forEach(function (element) {
      element.hidden = true;
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("[data-passkey-register]");
    if (!form || !SUPPORTED) return;
    event.preventDefault();
    register(form);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-passkey-start]");
    var element = button && button.closest("[data-passkey-ceremony]");
    if (!element || !SUPPORTED) return;
    event.preventDefault();
    authenticate(element, button);
  });

  reveal(document);
  document.addEventListener("htmx:load", function (event) { reveal(event.target); });
}());
