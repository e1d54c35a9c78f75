// Telegram linking: a one-time deep link (t.me/<bot>?start=…), the linked state, unlink. The
// bot side stores the chat in the sender; while a link is open the state is polled so the
// page notices when the user has pressed Start in Telegram.
import { h } from "./dom.js";

const POLL_MS = 3000;

export class TelegramSection {
  constructor(client, t, showError) {
    this.client = client;
    this.t = t;
    this.showError = showError;
    this.root = h("div", { class: "telegram" });
    this.poller = null;
  }

  stop() {
    clearInterval(this.poller);
    this.poller = null;
  }

  async load() {
    try {
      const state = await this.client.get("/v1/telegram/link");
      this.render(state.linked);
    } catch (err) {
      this.showError(err);
    }
  }

  render(linked, link) {
    const t = this.t;
    if (linked) this.stop();
    const status = h("p", { class: "telegram-state", role: "status", "data-linked": String(linked) }, linked ? t.linked : t.notLinked);
    const action = linked
      ? h("button", { type: "button", class: "unlink", onclick: () => this.unlink() }, t.unlink)
      : h("button", { type: "button", class: "link primary", onclick: () => this.link() }, t.link);
    const deep = link && !linked ? h("p", {},
      h("a", { class: "deep-link", href: link.url, target: "_blank", rel: "noopener noreferrer" }, t.openLink),
      h("span", { class: "note" }, ` · ${t.expires} ${new Date(link.expires_at).toLocaleTimeString()}`)) : null;
    this.root.replaceChildren(status, action, deep || "");
  }

  async link() {
    try {
      const link = await this.client.post("/v1/telegram/link");
      this.render(false, link);
      this.stop();
      this.poller = setInterval(() => this.poll(link), POLL_MS);
    } catch (err) {
      this.showError(err.status === 503 ? new Error(this.t.notConfigured) : err);
    }
  }

  async poll(link) {
    if (new Date(link.expires_at) < new Date()) { this.stop(); this.render(false); return; }
    try {
      const state = await this.client.get("/v1/telegram/link");
      if (state.linked) this.render(true);
    } catch {
      // a missed poll changes nothing; the next one asks again
    }
  }

  async unlink() {
    try {
      await this.client.del("/v1/telegram/link");
      this.showError(null);
    } catch (err) {
      this.showError(err);
    }
    await this.load();
  }
}
