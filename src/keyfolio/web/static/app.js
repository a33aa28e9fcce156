/* Keyfolio web: partial page updates without a framework.
 *
 *  <form data-target="#id">            submits by fetch and puts the answer into #id
 *  <form data-target="#id" data-live>  ... also on every change (debounced), without saving
 *  <a data-target="#id" href="...">    loads the link's answer into #id (and into the history)
 *  <div data-poll="/url" data-every="1000">  reloads itself from /url until the answer has
 *                                      the header X-Poll-Done
 *  <section data-load="/url">          fills itself once from /url when the page loads
 *                                      (a fragment owned by another page's route)
 * Requests carry X-Partial: 1 (the server answers a fragment) and the page's CSRF token.
 */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function headers() {
    return { "X-Partial": "1", "X-CSRF-Token": csrf, "Accept": "text/html" };
  }

  function find(target) {  // "#id" by id (ids may hold ":" and the like), else a selector
    return target.charAt(0) === "#" ? document.getElementById(target.slice(1))
                                    : document.querySelector(target);
  }

  function put(target, html) {
    var el = find(target);
    if (!el) { return; }
    el.innerHTML = html;
    run(el);
    el.dispatchEvent(new CustomEvent("keyfolio:updated", { bubbles: true }));
  }

  function run(root) {  // scripts in a fragment (charts) run once it is in the page
    root.querySelectorAll("script[data-run]").forEach(function (old) {
      var s = document.createElement("script");
      s.textContent = old.textContent;
      old.replaceWith(s);
    });
  }

  function submit(form) {
    var method = (form.getAttribute("method") || "get").toUpperCase();
    var url = form.getAttribute("action") || window.location.pathname;
    var data = new FormData(form);
    var opts = { method: method, headers: headers(), credentials: "same-origin" };
    if (method === "GET") {
      url += (url.indexOf("?") < 0 ? "?" : "&") + new URLSearchParams(data).toString();
    } else {
      opts.body = data;
    }
    form.setAttribute("aria-busy", "true");
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (text) {
        form.removeAttribute("aria-busy");
        var target = r.ok ? form.dataset.target : (form.dataset.errors || form.dataset.target);
        put(target, text);
        if (r.ok && method === "GET" && !form.hasAttribute("data-live")) {
          history.replaceState(null, "", url.replace("&format=html", ""));
        }
      });
    });
  }

  var timers = new WeakMap();
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.target) { return; }
    ev.preventDefault();
    submit(form);
  });
  function live(ev) {
    var form = ev.target && ev.target.form;
    if (!form || !form.hasAttribute("data-live") || !form.dataset.target) { return; }
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(function () {
      var url = form.dataset.live || form.getAttribute("action");
      var data = new FormData(form);
      fetch(url, { method: "POST", headers: headers(), body: data, credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (text) { put(form.dataset.liveTarget || form.dataset.target, text); });
    }, 250));
  }
  document.addEventListener("input", live);
  document.addEventListener("change", live);

  document.addEventListener("click", function (ev) {
    var a = ev.target instanceof Element ? ev.target.closest("a[data-target]") : null;
    if (!a) { return; }
    ev.preventDefault();
    fetch(a.href, { headers: headers(), credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (text) { put(a.dataset.target, text); history.replaceState(null, "", a.href); });
  });

  function poll(el) {
    var every = parseInt(el.dataset.every || "1000", 10);
    fetch(el.dataset.poll, { headers: headers(), credentials: "same-origin" }).then(function (r) {
      return r.text().then(function (text) {
        el.innerHTML = text;
        run(el);
        if (r.headers.get("X-Poll-Done")) {
          el.removeAttribute("data-poll");
          el.dispatchEvent(new CustomEvent("keyfolio:done", { bubbles: true }));
        } else {
          setTimeout(function () { poll(el); }, every);
        }
      });
    });
  }
  function load(el) {
    fetch(el.dataset.load, { headers: headers(), credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (text) { el.innerHTML = text; run(el); el.removeAttribute("data-load"); });
  }
  document.querySelectorAll("[data-poll]").forEach(poll);
  document.querySelectorAll("[data-load]").forEach(load);
  document.addEventListener("keyfolio:updated", function (ev) {
    ev.target.querySelectorAll("[data-poll]").forEach(poll);
  });
})();
