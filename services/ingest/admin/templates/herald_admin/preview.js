// Live template preview: re-render in the server's sandbox as the operator types.
(function () {
  "use strict";
  var panel = document.getElementById("herald-preview");
  if (!panel) { return; }
  var form = document.querySelector("form[method=POST]");
  var DEBOUNCE_MS = 300;
  var timer = null;
  var seq = 0;

  function byId(id) { return document.getElementById(id); }

  function show(result) {
    byId("preview-sample").textContent = result.sample ? "rendered against " + result.sample : "";
    // which saved row an event of the tenant to check would use (tenant overrides)
    byId("preview-used").textContent = result.used ? result.used.description : "";
    var error = byId("preview-error");
    if (!result.ok) {
      error.textContent = result.error;
      error.classList.remove("d-none");
      byId("preview-ok").classList.add("d-none");
      return;
    }
    error.classList.add("d-none");
    byId("preview-ok").classList.remove("d-none");
    byId("preview-subject").textContent = result.subject;
    byId("preview-body").textContent = result.body;
    var htmlBlock = byId("preview-html-block");
    if (result.body_html) {
      byId("preview-html").srcdoc = result.body_html;  // sandboxed iframe: no scripts run
      htmlBlock.classList.remove("d-none");
    } else {
      htmlBlock.classList.add("d-none");
    }
  }

  function refresh() {
    var mine = ++seq;
    var data = new FormData();
    ["tenant", "event_type", "channel", "locale", "subject", "body", "body_html"].forEach(
      function (name) {
        var field = form.elements[name];
        data.append(name, field ? field.value : "");
      });
    data.append("for_tenant", byId("preview-for-tenant").value);
    fetch(panel.dataset.url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("preview failed: HTTP " + r.status); }
        return r.json();
      })
      .then(function (result) { if (mine === seq) { show(result); } })
      .catch(function (err) { if (mine === seq) { show({ ok: false, error: String(err) }); } });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  });
  form.addEventListener("change", refresh);
  byId("preview-for-tenant").addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  });
  refresh();
})();
