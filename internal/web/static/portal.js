// mfad's only script. Every page works without it except the security key
// and passkey buttons; it adds:
//   - WebAuthn: sign in with a passkey (#passkey-login) and register a key
//     (#passkey-register), passing the server's JSON options to
//     navigator.credentials.get / .create and the answer back;
//   - copy buttons ([data-copy]: backup codes, a new API token) and the
//     print button (#print-codes);
//   - the guard that keeps a person from leaving new backup codes unsaved
//     (#codes-saved-form, in the portal and the console).
// Elements it drives are hidden in the HTML and shown here, so a browser
// without script never sees a button that does nothing.
(function () {
  "use strict";

  // base64url <-> ArrayBuffer, for the binary fields of WebAuthn JSON.
  function toBuffer(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIDs(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBuffer(c.id) });
    });
  }

  // creationOptions and requestOptions turn the server's JSON into what
  // the browser takes, with the browser's own parser where it has one.
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    o.excludeCredentials = withIDs(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    o.allowCredentials = withIDs(json.allowCredentials);
    return o;
  }

  // credentialJSON is the browser's answer as the server reads it.
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      try { return cred.toJSON(); } catch (e) { /* build it below */ }
    }
    var r = cred.response;
    var out = {
      id: cred.id, rawId: toBase64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) out.response.userHandle = toBase64url(r.userHandle);
    }
    return out;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error(data.error || "The server did not answer as expected. Try again.");
          err.redirect = data.redirect;
          throw err;
        }
        return data;
      });
    });
  }

  // explain turns a browser's WebAuthn error into words.
  function explain(err, use) {
    switch (err && err.name) {
      case "NotAllowedError":
        return "The key did not answer, or you cancelled. Try again.";
      case "InvalidStateError":
        return "This security key or passkey is registered already.";
      case "SecurityError":
        return "This browser refused the address. Open " + use + " and try again.";
      case "NotSupportedError":
        return "This security key cannot be used here. Try another one.";
    }
    return (err && err.message) || "Something went wrong. Try again.";
  }

  // usable says whether WebAuthn can work on this page; when not, it says
  // why in status and returns false.
  function usable(el, status) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      status.textContent = "This browser cannot use security keys or passkeys.";
      return false;
    }
    var origins = (el.getAttribute("data-origins") || "").split(" ");
    if (origins.indexOf(window.location.origin) < 0) {
      status.textContent = "Security keys and passkeys work only at " +
        el.getAttribute("data-use") + ". Open it there instead.";
      return false;
    }
    return true;
  }

  function passkeyLogin(box) {
    var button = document.getElementById("passkey-sign-in");
    var status = document.getElementById("passkey-status");
    if (!usable(box, status)) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "Waiting for your passkey…";
      var ceremony;
      post(box.getAttribute("data-begin"), {}).then(function (begin) {
        ceremony = begin.ceremony;
        return navigator.credentials.get({ publicKey: requestOptions(begin.options.publicKey) });
      }).then(function (cred) {
        return post(box.getAttribute("data-finish"), {
          ceremony: ceremony, credential: credentialJSON(cred),
          next: box.getAttribute("data-next")
        });
      }).then(function (done) {
        window.location.assign(done.redirect || "/security");
      }).catch(function (err) {
        status.textContent = explain(err, box.getAttribute("data-use"));
        button.disabled = false;
      });
    });
  }

  function passkeyRegister(form) {
    var status = document.getElementById("key-status");
    var button = document.getElementById("register-key");
    if (!usable(form, status)) {
      button.disabled = true;
      return;
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      button.disabled = true;
      status.textContent = "Follow your browser's prompt to register the key…";
      var name = document.getElementById("key-name").value;
      var ceremony;
      post(form.getAttribute("data-begin"), { name: name }).then(function (begin) {
        ceremony = begin.ceremony;
        return navigator.credentials.create({ publicKey: creationOptions(begin.options.publicKey) });
      }).then(function (cred) {
        return post(form.getAttribute("data-finish"), {
          ceremony: ceremony, credential: credentialJSON(cred)
        });
      }).then(function (done) {
        window.location.assign(done.redirect || "/security");
      }).catch(function (err) {
        if (err.redirect) {
          window.location.assign(err.redirect);
          return;
        }
        status.textContent = explain(err, form.getAttribute("data-use"));
        button.disabled = false;
      });
    });
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      var status = document.getElementById(button.getAttribute("data-copy-status"));
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
          if (status) status.textContent = "Copied.";
        }, function () {
          if (status) status.textContent = "Could not copy; select the text and copy it instead.";
        });
      });
    });
  }

  // codesGuard asks before a person leaves the page of new codes without
  // having confirmed they saved them: the codes cannot be shown again.
  function codesGuard(form) {
    var saved = false;
    form.addEventListener("submit", function () { saved = true; });
    window.addEventListener("beforeunload", function (ev) {
      if (saved) return;
      ev.preventDefault();
      ev.returnValue = "";
    });
  }

  function printButton() {
    var print = document.getElementById("print-codes");
    if (!print) return;
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }

  function start() {
    var login = document.getElementById("passkey-login");
    if (login) passkeyLogin(login);
    var register = document.getElementById("passkey-register");
    if (register) passkeyRegister(register);
    copyButtons();
    printButton();
    var guard = document.getElementById("codes-saved-form");
    if (guard) codesGuard(guard);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
