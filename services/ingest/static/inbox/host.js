// Hosts <herald-inbox> and <herald-preferences>: where the token comes from (the URL's
// fragment once, then sessionStorage, or the paste form), the two base URLs, two tabs.
const params = new URLSearchParams(location.search);
const apiBase = (params.get("api") || location.origin).replace(/\/$/, "");
const wsUrl = params.get("ws") || `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:8001/`;
const $ = (id) => document.getElementById(id);

function takeToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) {
    sessionStorage.setItem("herald.token", token);
    history.replaceState(null, "", location.pathname + location.search); // out of the history
    return token;
  }
  return sessionStorage.getItem("herald.token");
}

function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  for (const el of [$("inbox"), $("settings")]) {
    el.setAttribute("api-base", apiBase);
    el.setAttribute("ws-url", wsUrl);
    if (params.get("locale")) el.setAttribute("locale", params.get("locale"));
    // a real app asks its auth layer for a fresh token here
    el.tokenProvider = () => sessionStorage.getItem("herald.token");
  }
}

function select(tab) {
  for (const name of ["inbox", "settings"]) {
    const on = name === tab;
    $(`tab-${name}`).setAttribute("aria-selected", String(on));
    $(`tab-${name}`).tabIndex = on ? 0 : -1;
    $(`${name}-panel`).hidden = !on;
  }
  $(`tab-${tab}`).focus();
}

$("tab-inbox").addEventListener("click", () => select("inbox"));
$("tab-settings").addEventListener("click", () => select("settings"));
document.querySelector("[role=tablist]").addEventListener("keydown", (event) => {
  if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
    select($("tab-inbox").getAttribute("aria-selected") === "true" ? "settings" : "inbox");
  }
});
$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (token) { sessionStorage.setItem("herald.token", token); start(); }
});

if (takeToken()) start(); else $("login").hidden = false;
