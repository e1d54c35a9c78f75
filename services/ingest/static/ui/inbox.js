// <herald-inbox>: bell with the unread badge (set from `counts` frames, never by counting),
// a list with cursor paging, read / unread / archive / read-all, a module filter, live
// updates over the websocket with cursor resume. Each item is shown once, whatever arrives
// twice (a reload and a replay may both carry it): the list is keyed by item id.
import { HeraldElement } from "./base.js";
import { bellIcon, h } from "./dom.js";
import { Live } from "./live.js";

const PAGE = 30;

export class HeraldInbox extends HeraldElement {
  constructor() {
    super();
    this.items = new Map(); // id -> {item, li}
    this.sources = new Set();
    this.nextPage = null;
    this.connectionState = "connecting";
  }

  async start() {
    this.render();
    const wsUrl = this.getAttribute("ws-url") || `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:8001/`;
    this.live = new Live(wsUrl, () => this.client.token(), {
      frame: (f) => this.onFrame(f),
      state: (name, seconds) => this.setState(name, seconds),
    });
    this.live.start(); // the first page is read after `welcome`: it holds all before "live"
  }

  disconnectedCallback() {
    if (this.live) this.live.stop(); // reinserted: starts afresh, from the REST inbox
    this.live = null;
    this._started = false;
  }

  render() {
    const t = this.t;
    this.badge = h("span", { class: "badge", "data-count": "0", "aria-hidden": "true" }, "0");
    this.bell = h("button", { class: "bell", type: "button", "aria-expanded": "true", "aria-controls": "panel",
      "aria-label": t.bell(0), onclick: () => this.togglePanel() }, bellIcon(), this.badge);
    this.status = h("span", { class: "status", role: "status", "aria-label": t.connection, "data-state": "connecting" }, t.state.connecting);
    this.sourceSelect = h("select", { class: "source", id: "source", onchange: () => this.reload() },
      h("option", { value: "" }, t.allModules));
    this.viewSelect = h("select", { class: "view", id: "view", onchange: () => this.reload() },
      h("option", { value: "all" }, t.all), h("option", { value: "unread" }, t.unread),
      h("option", { value: "archived" }, t.archive));
    this.error = h("p", { class: "error", role: "alert", hidden: true });
    this.list = h("ul", { class: "list", "aria-label": t.notifications, "aria-live": "polite" });
    this.empty = h("p", { class: "note empty", hidden: true }, t.empty);
    this.more = h("button", { class: "more", type: "button", hidden: true, onclick: () => this.loadPage() }, t.older);
    this.panel = h("div", { class: "panel", id: "panel" },
      h("div", { class: "toolbar" },
        h("label", { for: "source" }, t.module), this.sourceSelect,
        h("label", { for: "view" }, t.show), this.viewSelect,
        h("span", { class: "spacer" }),
        h("button", { class: "read-all", type: "button", onclick: () => this.readAll() }, t.readAll)),
      this.error, this.list, this.empty, this.more);
    this.shadowRoot.replaceChildren(
      h("div", { class: "bar", part: "bar" }, this.bell, h("h2", {}, t.inbox), this.status), this.panel);
  }

  togglePanel() {
    this.panel.hidden = !this.panel.hidden;
    this.bell.setAttribute("aria-expanded", String(!this.panel.hidden));
  }

  setState(name, seconds) {
    this.connectionState = name;
    this.status.dataset.state = name;
    const text = this.t.state[name];
    this.status.textContent = typeof text === "function" ? text(seconds) : text;
    this.dispatchEvent(new CustomEvent("herald-connection", { detail: { state: name } }));
  }

  showError(err) {
    this.error.textContent = err ? (err.status === 503 ? this.t.unavailable : err.message || String(err)) : "";
    this.error.hidden = !err;
  }

  onFrame(frame) {
    if (frame.type === "welcome") {
      if (!frame.resuming) this.reload();
    } else if (frame.type === "resumed") {
      if (!frame.recovered) this.reload(); // too far behind: the REST inbox is the truth
    } else if (frame.type === "notification") {
      this.sources.add(frame.item.source);
      this.refreshSources();
      if (this.wants(frame.item)) this.show(frame.item);
    } else if (frame.type === "counts") {
      this.setCounts(frame.counts);
    } else if (frame.type === "error") {
      this.showError(new Error(frame.reason));
    }
  }

  wants(item) {
    const source = this.sourceSelect.value;
    const view = this.viewSelect.value;
    if (source && item.source !== source) return false;
    if (view === "archived") return Boolean(item.archived_at);
    return !item.archived_at && (view !== "unread" || !item.read_at);
  }

  async reload() {
    this.generation = (this.generation || 0) + 1; // a page for an older filter is dropped
    this.items.clear();
    this.list.replaceChildren();
    this.nextPage = null;
    await Promise.all([this.loadPage(), this.loadCounts()]);
  }

  async loadCounts() {
    try {
      this.setCounts(await this.client.get("/v1/inbox/counts"));
    } catch (err) {
      this.showError(err);
    }
  }

  async loadPage() {
    const query = new URLSearchParams({ limit: String(PAGE) });
    const view = this.viewSelect.value;
    if (this.nextPage) query.set("cursor", this.nextPage);
    if (this.sourceSelect.value) query.set("source", this.sourceSelect.value);
    if (view === "archived") query.set("archived", "true");
    if (view === "unread") query.set("unread", "true");
    const generation = this.generation;
    try {
      const page = await this.client.get(`/v1/inbox?${query}`);
      if (generation !== this.generation) return;
      page.items.forEach((item) => this.show(item));
      this.nextPage = page.next_cursor;
      this.more.hidden = !page.next_cursor;
      this.showError(null);
    } catch (err) {
      this.showError(err);
    }
    this.empty.hidden = this.items.size > 0;
  }

  setCounts(counts) {
    const total = counts && typeof counts.total === "number" ? counts.total : 0;
    this.unread = total;
    this.badge.textContent = total > 99 ? "99+" : String(total);
    this.badge.dataset.count = String(total);
    this.bell.setAttribute("aria-label", this.t.bell(total));
    Object.keys((counts && counts.by_source) || {}).forEach((s) => this.sources.add(s));
    this.refreshSources();
  }

  refreshSources() {
    const have = new Set([...this.sourceSelect.options].map((o) => o.value));
    [...this.sources].sort().filter((s) => !have.has(s))
      .forEach((s) => this.sourceSelect.append(h("option", { value: s }, s)));
  }

  show(item) {
    this.sources.add(item.source);
    const known = this.items.get(item.id);
    const li = this.itemElement(item);
    if (known) {
      known.li.replaceWith(li);
    } else {
      const after = [...this.list.children].find((el) => Number(el.dataset.id) < item.id);
      this.list.insertBefore(li, after || null); // newest first, whatever order they arrive in
    }
    this.items.set(item.id, { item, li });
    this.empty.hidden = true;
  }

  itemElement(item) {
    const t = this.t;
    const read = Boolean(item.read_at);
    const archived = Boolean(item.archived_at);
    return h("li", { class: read ? "item" : "item unread", "data-id": item.id },
      h("div", { class: "head" },
        h("span", { class: "source" }, `${item.source} · ${item.entity_type} ${item.entity_id}`),
        h("time", { dateTime: item.created_at }, this.dateText(item.created_at))),
      h("div", { class: "title" }, item.title),
      h("div", { class: "body" }, item.body),
      h("div", { class: "actions" },
        h("button", { type: "button", class: read ? "mark-unread" : "mark-read", "aria-label": `${read ? t.markUnread : t.markRead}: ${item.title}`,
          onclick: () => this.change(item.id, read ? "unread" : "read") }, read ? t.markUnread : t.markRead),
        h("button", { type: "button", class: archived ? "unarchive" : "archive", "aria-label": `${archived ? t.unarchive : t.doArchive}: ${item.title}`,
          onclick: () => this.change(item.id, archived ? "unarchive" : "archive") }, archived ? t.unarchive : t.doArchive)));
  }

  async change(id, action) {
    try {
      const result = await this.client.post(`/v1/inbox/${id}/${action}`);
      this.setCounts(result.counts);
      if (this.wants(result.item)) {
        this.show(result.item);
      } else {
        this.forget(id);
      }
      this.showError(null);
    } catch (err) {
      this.showError(err);
    }
  }

  forget(id) {
    const known = this.items.get(id);
    if (!known) return;
    known.li.remove();
    this.items.delete(id);
    this.empty.hidden = this.items.size > 0;
  }

  async readAll() {
    // only what the user has seen: a notification arriving meanwhile stays unread
    const upTo = Math.max(0, ...this.items.keys());
    const body = upTo ? { up_to_id: upTo } : {};
    if (this.sourceSelect.value) body.source = this.sourceSelect.value;
    try {
      const result = await this.client.post("/v1/inbox/read-all", body);
      this.setCounts(result.counts);
      const now = new Date().toISOString();
      for (const { item } of [...this.items.values()]) {
        if (item.id > upTo || item.read_at) continue;
        const updated = { ...item, read_at: now };
        if (this.wants(updated)) this.show(updated); else this.forget(item.id);
      }
    } catch (err) {
      this.showError(err);
    }
  }
}
