// Herald live inbox: REST for the list and state changes, one websocket for what is new.
// Protocol: docs/websocket-protocol.md (auth, resume, notification, counts, ping/pong).
(function () {
  "use strict";

  var PAGE = 50;
  var RECONNECT_MIN_MS = 1000;
  var RECONNECT_MAX_MS = 30000;
  var CLOSE_UNAUTHORIZED = 4401; // a bad token: retrying with the same one cannot help
  var CLOSE_POLICY = 1008; // token expired mid-connection

  var params = new URLSearchParams(location.search);
  var apiBase = (params.get("api") || location.origin).replace(/\/$/, "");
  var wsUrl = params.get("ws") ||
    (location.protocol === "https:" ? "wss://" : "ws://") + location.hostname + ":8001/";

  var state = {
    token: null,
    items: new Map(), // id -> {item, element}
    lastId: 0, // the newest notification id seen (read-all marks up to it)
    cursor: null, // the gateway's cursor of the newest notification seen: what a reconnect resumes from
    page: null, // the REST list's cursor of the next (older) page
    loaded: false, // the first page is read after the first welcome: nothing falls in between
    socket: null,
    retryMs: RECONNECT_MIN_MS,
    pingTimer: null,
    stopped: false,
  };

  function $(id) { return document.getElementById(id); }

  function takeToken() {
    var hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    var token = hash.get("token");
    if (token) {
      sessionStorage.setItem("herald.token", token);
      history.replaceState(null, "", location.pathname + location.search); // keep it out of history
      return token;
    }
    return sessionStorage.getItem("herald.token");
  }

  function showError(text) {
    $("error").textContent = text || "";
    $("error").hidden = !text;
  }

  function setStatus(name) {
    $("status").dataset.state = name;
    $("status").textContent = name;
  }

  function api(method, path, body) {
    var init = { method: method, headers: { Authorization: "Bearer " + state.token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(apiBase + path, init).then(function (r) {
      if (r.status === 401) { throw new Error("the token was refused (expired?): paste a new one"); }
      if (!r.ok) { throw new Error(method + " " + path + ": HTTP " + r.status); }
      return r.json();
    });
  }

  function setCount(counts) {
    var total = counts && typeof counts.total === "number" ? counts.total : 0;
    $("bell-count").textContent = total > 99 ? "99+" : String(total);
    $("bell-count").dataset.count = String(total);
    document.title = (total ? "(" + total + ") " : "") + "Herald — inbox";
  }

  function render(item, fresh) {
    var known = state.items.get(item.id);
    var li = known ? known.element : $("item-template").content.firstElementChild.cloneNode(true);
    li.dataset.id = String(item.id);
    li.classList.toggle("unread", !item.read_at);
    li.querySelector(".source").textContent = item.source + " · " + item.entity_type + " " + item.entity_id;
    li.querySelector(".when").textContent = new Date(item.created_at).toLocaleString();
    li.querySelector(".when").dateTime = item.created_at;
    li.querySelector(".title").textContent = item.title;
    li.querySelector(".body").textContent = item.body;
    li.querySelector(".mark-read").onclick = function () { markRead(item.id); };
    if (!known) { place(li, item.id, fresh); }
    state.items.set(item.id, { item: item, element: li });
    state.lastId = Math.max(state.lastId, item.id);
    $("empty").hidden = state.items.size > 0;
  }

  function place(li, id, fresh) {
    var list = $("inbox-list");
    var before = Array.prototype.find.call(list.children, function (el) { return Number(el.dataset.id) < id; });
    list.insertBefore(li, before || null); // newest first, whatever order they arrive in
    if (fresh) { li.classList.add("fresh"); }
  }

  function loadPage() {
    var query = "?limit=" + PAGE + (state.page ? "&cursor=" + encodeURIComponent(state.page) : "");
    return api("GET", "/v1/inbox" + query).then(function (page) {
      page.items.forEach(function (item) { render(item, false); });
      state.page = page.next_cursor; // the REST list's own cursor (older items), not the gateway's
      $("more").hidden = !page.next_cursor;
      $("empty").hidden = state.items.size > 0;
    });
  }

  function markRead(id) {
    api("POST", "/v1/inbox/" + id + "/read").then(function (result) {
      render(result.item, false);
      setCount(result.counts);
    }).catch(function (err) { showError(String(err.message || err)); });
  }

  function readAll() {
    // only what the user has seen: a notification arriving meanwhile stays unread
    api("POST", "/v1/inbox/read-all", { up_to_id: state.lastId || null }).then(function (result) {
      state.items.forEach(function (entry) {
        if (entry.item.id <= state.lastId && !entry.item.read_at) {
          entry.item.read_at = new Date().toISOString();
          render(entry.item, false);
        }
      });
      setCount(result.counts);
    }).catch(function (err) { showError(String(err.message || err)); });
  }

  function connect() {
    if (state.stopped) { return; }
    setStatus(state.socket ? "reconnecting" : "connecting");
    var socket = new WebSocket(wsUrl);
    socket.binaryType = "arraybuffer"; // the gateway sends UTF-8 JSON, possibly as binary frames
    state.socket = socket;
    socket.onopen = function () {
      var auth = { type: "auth", token: state.token };
      if (state.cursor) { auth.resume = state.cursor; } // replayed before anything live
      socket.send(JSON.stringify(auth));
    };
    socket.onmessage = function (event) { onFrame(socket, JSON.parse(decode(event.data))); };
    socket.onclose = function (event) { onClose(event); };
  }

  var utf8 = new TextDecoder("utf-8");

  function decode(data) { return typeof data === "string" ? data : utf8.decode(data); }

  function onFrame(socket, frame) {
    if (frame.type === "welcome") {
      state.retryMs = RECONNECT_MIN_MS;
      showError("");
      keepAlive(socket, frame.idle_timeout_s);
      if (state.cursor) {
        setStatus("catching up"); // the replay of what we missed comes first
      } else {
        state.cursor = frame.cursor; // live from here; the first page holds what came before
        setStatus("live");
        firstPage();
      }
    } else if (frame.type === "resumed") {
      state.cursor = frame.cursor;
      setStatus("live");
      if (!frame.recovered) { reload(); } // too much missed: read the inbox again
    } else if (frame.type === "notification") {
      if (frame.cursor) { state.cursor = frame.cursor; }
      render(frame.item, true); // the gateway follows it with a "counts" frame (live and resume)
    } else if (frame.type === "counts") {
      setCount(frame.counts);
    } else if (frame.type === "error") {
      showError("gateway: " + frame.reason);
    }
  }

  function firstPage() {
    if (state.loaded) { return; }
    state.loaded = true;
    Promise.all([loadPage(), api("GET", "/v1/inbox/counts").then(setCount)])
      .catch(function (err) { showError(String(err.message || err)); });
  }

  function reload() {
    state.items.forEach(function (entry) { entry.element.remove(); });
    state.items.clear();
    state.loaded = false;
    state.page = null;
    firstPage();
  }

  function keepAlive(socket, idleS) {
    clearInterval(state.pingTimer);
    var everyMs = Math.max(5, (idleS || 60) / 2) * 1000; // well inside the gateway's idle limit
    state.pingTimer = setInterval(function () {
      if (socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({ type: "ping" })); }
    }, everyMs);
  }

  function onClose(event) {
    clearInterval(state.pingTimer);
    if (event.code === CLOSE_UNAUTHORIZED || event.code === CLOSE_POLICY) {
      setStatus("offline");
      showError("live updates stopped: " + (event.reason || "token refused") + " — paste a new token");
      $("login").hidden = false;
      return;
    }
    setStatus("reconnecting");
    var delay = state.retryMs * (0.5 + Math.random() / 2); // jitter: not every tab at once
    state.retryMs = Math.min(RECONNECT_MAX_MS, state.retryMs * 2);
    setTimeout(connect, delay);
  }

  function whoAmI(token) {
    try {
      var claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      return claims.sub ? "signed in as " + claims.sub : "";
    } catch (e) { return ""; }
  }

  function start(token) {
    state.token = token;
    $("login").hidden = true;
    $("inbox").hidden = false;
    $("who").textContent = whoAmI(token);
    connect(); // the first page is read once the gateway said where "live" starts
  }

  $("login").addEventListener("submit", function (event) {
    event.preventDefault();
    var token = $("token-input").value.trim();
    if (token) { sessionStorage.setItem("herald.token", token); start(token); }
  });
  $("read-all").addEventListener("click", readAll);
  $("bell").addEventListener("click", function () { window.scrollTo(0, 0); });
  $("more").addEventListener("click", function () {
    loadPage().catch(function (err) { showError(String(err.message || err)); });
  });

  var token = takeToken();
  if (token) { start(token); } else { $("login").hidden = false; }
})();
