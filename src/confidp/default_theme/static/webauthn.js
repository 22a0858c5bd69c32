/* confidp: passkeys (WebAuthn). Loaded as a file (the Content-Security-Policy allows
   script-src 'self' and nothing inline) by the pages that offer a passkey.

   A form with data-webauthn="get" (sign in) or "create" (add a passkey) carries the options
   the server made (data-options: JSON, binary values base64url). On submit this script asks
   the browser for the credential, puts the browser's answer (JSON, base64url) into the form's
   hidden "credential" field and submits the form. Forms in a [data-webauthn-only] block stay
   hidden where the browser has no WebAuthn, so a page without JavaScript shows only what
   works without it. */
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: toBytes(d.id), transports: d.transports };
    });
  }

  function creationOptions(o) {
    var options = Object.assign({}, o);
    options.challenge = toBytes(o.challenge);
    options.user = Object.assign({}, o.user, { id: toBytes(o.user.id) });
    options.excludeCredentials = descriptors(o.excludeCredentials);
    return options;
  }

  function requestOptions(o) {
    var options = Object.assign({}, o);
    options.challenge = toBytes(o.challenge);
    options.allowCredentials = descriptors(o.allowCredentials);
    return options;
  }

  function answer(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(), response: response
    };
  }

  function show(form, state) {
    var shown = form.querySelectorAll("[data-webauthn-state]");
    for (var i = 0; i < shown.length; i++) {
      shown[i].hidden = shown[i].getAttribute("data-webauthn-state") !== state;
    }
  }

  function start(form) {
    var button = form.querySelector("button[type=submit]");
    var options = JSON.parse(form.getAttribute("data-options"));
    var create = form.getAttribute("data-webauthn") === "create";
    show(form, "waiting");
    if (button) button.disabled = true;
    var asked = create
      ? navigator.credentials.create({ publicKey: creationOptions(options) })
      : navigator.credentials.get({ publicKey: requestOptions(options) });
    asked.then(function (credential) {
      form.querySelector("input[name=credential]").value = JSON.stringify(answer(credential));
      form.submit();
    }).catch(function () {
      show(form, "failed");
      if (button) { button.disabled = false; button.focus(); }
    });
  }

  var supported = typeof window.PublicKeyCredential === "function" &&
    !!navigator.credentials;
  var blocks = document.querySelectorAll("[data-webauthn-only]");
  for (var i = 0; i < blocks.length; i++) blocks[i].hidden = !supported;
  var forms = document.querySelectorAll("form[data-webauthn]");
  for (var j = 0; j < forms.length; j++) {
    forms[j].addEventListener("submit", function (event) {
      if (!supported) return;  // the server explains that no passkey came
      event.preventDefault();
      start(event.currentTarget);
    });
  }
})();
