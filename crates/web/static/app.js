/*
 * Tsunagu — small page behaviours. No dependency besides htmx (and works
 * without it). Loaded with `defer` from base.html. The CSP forbids inline
 * script and event-handler attributes, so templates declare behaviour with
 * data-* attributes instead:
 *
 *   <meta name="csrf-token" content="…">  sent as X-CSRF-Token on htmx requests
 *   data-confirm="…"          on a <form>, a submit <button> or an hx-* button:
 *                             ask window.confirm first, cancel when declined
 *   .error-summary            focused on load and after an htmx swap
 *                             (give it tabindex="-1"; added here if missing)
 *   <button data-print>       calls window.print()
 *   select[data-autosubmit]   submits its form on change
 *   form[data-keep-draft="ID:REVISION"]
 *                             keeps what is typed in this browser until the
 *                             server has it (see (f))
 */
(function () {
  "use strict";

  function closest(target, selector) {
    return target instanceof Element ? target.closest(selector) : null;
  }

  function isHtmxElement(el) {
    return ["hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"].some(function (a) {
      return el.hasAttribute(a);
    });
  }

  var hasSubmitter =
    typeof SubmitEvent !== "undefined" && "submitter" in SubmitEvent.prototype;

  // (a) CSRF token header on every htmx request.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var token = meta ? meta.getAttribute("content") : "";
    if (token && event.detail && event.detail.headers) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // (b) data-confirm. Capture-phase listeners on document run before htmx's
  // own listeners on the element, so stopping here also stops the request.
  function cancel(event) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }

  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      if (form.hasAttribute("data-confirmed")) {
        // Already asked by the click handler below.
        form.removeAttribute("data-confirmed");
        return;
      }
      var submitter = event.submitter || null;
      var message =
        (submitter && submitter.getAttribute("data-confirm")) ||
        form.getAttribute("data-confirm");
      if (message && !window.confirm(message)) cancel(event);
    },
    true
  );

  document.addEventListener(
    "click",
    function (event) {
      var el = closest(event.target, "[data-confirm]");
      if (!el || el instanceof HTMLFormElement) return;
      var submitsForm =
        el.form && (el.type === "submit" || el.type === "image") && !isHtmxElement(el);
      // A plain submit button is handled by the submit listener, which knows
      // the submitter; older browsers without SubmitEvent.submitter ask here.
      if (submitsForm && hasSubmitter) return;
      if (!window.confirm(el.getAttribute("data-confirm"))) {
        cancel(event);
      } else if (submitsForm) {
        el.form.setAttribute("data-confirmed", "");
      }
    },
    true
  );

  // (c) Focus the error summary so keyboard and screen-reader users land on it.
  function focusErrorSummary(root) {
    var summary = root.querySelector(".error-summary");
    if (!summary) return;
    if (!summary.hasAttribute("tabindex")) summary.setAttribute("tabindex", "-1");
    summary.focus();
  }

  // (d) Print buttons.
  document.addEventListener("click", function (event) {
    var el = closest(event.target, "[data-print]");
    if (!el) return;
    event.preventDefault();
    window.print();
  });

  // (e) Auto-submitting selects (filters). requestSubmit fires the submit
  // event, so htmx (hx-get on the form) and data-confirm still apply.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!(el instanceof HTMLSelectElement) || !el.hasAttribute("data-autosubmit")) return;
    var form = el.form;
    if (!form) return;
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();
    }
  });

  // (f) Survey answers are long to type. What is typed is copied to
  // localStorage as it changes, so a session that timed out or a closed tab
  // loses nothing: the copy is put back when the same response is opened at
  // the same revision, and dropped once the server's revision has moved on
  // (the answers were saved). The answers are municipal totals, not personal
  // data.
  var DRAFT_PREFIX = "tsunagu-draft:";

  function draftFields(form) {
    var out = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "hidden" || el.type === "submit" || el.type === "file") return;
      if (el.type === "checkbox" || el.type === "radio") {
        out.push([el.name, el.value, el.checked]);
      } else {
        out.push([el.name, el.value]);
      }
    });
    return out;
  }

  function keepDrafts() {
    var form = document.querySelector("form[data-keep-draft]");
    if (!form || !window.localStorage) return;
    var parts = form.getAttribute("data-keep-draft").split(":");
    var key = DRAFT_PREFIX + parts[0];
    var revision = parts[1];
    var stored = null;
    try {
      stored = JSON.parse(localStorage.getItem(key) || "null");
    } catch (e) {
      stored = null;
    }
    if (stored && stored.revision !== revision) {
      localStorage.removeItem(key);
      stored = null;
    }
    if (stored && Array.isArray(stored.fields)) {
      var before = JSON.stringify(draftFields(form));
      stored.fields.forEach(function (f) {
        Array.prototype.forEach.call(form.elements, function (el) {
          if (el.name !== f[0]) return;
          if (el.type === "checkbox" || el.type === "radio") {
            if (el.value === f[1]) el.checked = !!f[2];
          } else {
            el.value = f[1];
          }
        });
      });
      if (JSON.stringify(draftFields(form)) !== before) {
        var note = document.createElement("div");
        note.className = "alert alert-info restored-draft";
        note.setAttribute("role", "status");
        note.textContent =
          "保存されていなかった入力を、このブラウザから復元しました。内容を確かめて「一時保存」してください。";
        form.parentNode.insertBefore(note, form);
      }
    }
    var timer = null;
    function save() {
      timer = null;
      try {
        localStorage.setItem(key, JSON.stringify({ revision: revision, fields: draftFields(form) }));
      } catch (e) {
        // Storage full or disabled: the server copy is all there is.
      }
    }
    function later() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(save, 400);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("submit", save);
  }

  function onReady() {
    focusErrorSummary(document);
    keepDrafts();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    onReady();
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.querySelector) {
      if (target.matches && target.matches(".error-summary")) {
        focusErrorSummary(target.parentNode || document);
      } else {
        focusErrorSummary(target);
      }
    }
  });
})();
