// <herald-preferences>: the user's settings — mode per module × channel, the digest schedule
// per channel, saved-filter subscriptions, Telegram linking. A change the server refuses (422)
// is shown and the screen goes back to what the server holds: nothing looks saved that isn't.
import { HeraldElement } from "./base.js";
import { h } from "./dom.js";
import { SubscriptionsSection } from "./subscriptions.js";
import { TelegramSection } from "./telegram.js";

const MODES = ["instant", "digest", "off"];

export class HeraldPreferences extends HeraldElement {
  async start() {
    const t = this.t;
    this.error = h("p", { class: "error", role: "alert", hidden: true });
    this.modesBox = h("div", { class: "modes" });
    this.scheduleBox = h("div", { class: "schedules" });
    this.subscriptions = new SubscriptionsSection(this.client, t, (e) => this.showError(e),
      () => (this.view ? this.view.channels : ["browser"]));
    this.telegram = new TelegramSection(this.client, t, (e) => this.showError(e));
    this.shadowRoot.replaceChildren(h("div", { class: "panel" },
      h("h2", {}, t.settings), this.error,
      h("section", { "aria-labelledby": "h-channels" }, h("h3", { id: "h-channels" }, t.channels), this.modesBox),
      h("section", { "aria-labelledby": "h-schedule" }, h("h3", { id: "h-schedule" }, t.schedule), this.scheduleBox),
      h("section", { "aria-labelledby": "h-subs" }, h("h3", { id: "h-subs" }, t.subscriptions), this.subscriptions.root),
      h("section", { "aria-labelledby": "h-telegram" }, h("h3", { id: "h-telegram" }, t.telegram), this.telegram.root)));
    await Promise.all([this.loadModes(), this.subscriptions.load(), this.telegram.load()]);
    this.dispatchEvent(new CustomEvent("herald-ready"));
  }

  disconnectedCallback() {
    if (this.telegram) this.telegram.stop();
    this._started = false;
  }

  showError(err) {
    const t = this.t;
    const text = !err ? "" : err.status === 422 ? `${t.refused}: ${err.message}` : err.status === 503 ? t.unavailable : err.message;
    this.error.textContent = text;
    this.error.hidden = !err;
  }

  async loadModes() {
    try {
      this.view = await this.client.get("/v1/preferences");
    } catch (err) {
      this.showError(err);
      return;
    }
    this.renderModes();
    await this.renderSchedules();
  }

  renderModes() {
    const t = this.t;
    const { channels, modules } = this.view;
    const head = h("tr", {}, h("th", { scope: "col" }, t.module), channels.map((c) => h("th", { scope: "col" }, c)));
    const rows = modules.map((mod) => {
      const name = mod.source === "*" ? t.star : mod.source;
      const critical = mod.critical_types.length ? h("div", { class: "note" }, t.critical(mod.critical_types.join(", "))) : null;
      return h("tr", { "data-source": mod.source }, h("th", { scope: "row" }, name, critical),
        channels.map((c) => h("td", {}, this.modeCell(mod, c, name))));
    });
    this.modesBox.replaceChildren(h("table", {}, h("caption", { class: "note" }, t.channels), h("thead", {}, head), h("tbody", {}, rows)));
  }

  modeCell(mod, channel, name) {
    const t = this.t;
    const setting = mod.channels[channel];
    const select = h("select", { "aria-label": t.channelMode(name, channel), "data-channel": channel,
      onchange: () => this.changeMode(mod.source, channel, select.value) },
    MODES.map((m) => h("option", { value: m,
      disabled: (m === "digest" && (!setting.can_digest || !mod.digestible)) || (m === "off" && !setting.can_turn_off) },
    t.modes[m])));
    select.value = setting.mode;
    const notes = [];
    if (setting.is_default) notes.push(t.defaultSuffix);
    if (!setting.can_turn_off) notes.push(t.cannotOff);
    return [select, notes.length ? h("div", { class: "note" }, notes.join(" · ")) : null];
  }

  async changeMode(source, channel, mode) {
    let refused = null;
    try {
      await this.client.put("/v1/preferences", { changes: [{ source, channel, mode }] });
    } catch (err) {
      refused = err;
    }
    await this.loadModes(); // what the server holds now: after a refusal, the old mode again
    this.showError(refused);
  }

  digestChannels() {
    const { channels, modules } = this.view;
    return channels.filter((c) => modules.some((m) => m.channels[c] && m.channels[c].can_digest));
  }

  async renderSchedules() {
    const forms = await Promise.all(this.digestChannels().map((c) => this.scheduleForm(c)));
    this.scheduleBox.replaceChildren(...forms.filter(Boolean));
  }

  async scheduleForm(channel) {
    const t = this.t;
    let s;
    try {
      s = await this.client.get(`/v1/digest/${channel}`);
    } catch (err) {
      this.showError(err);
      return null;
    }
    const days = t.dayNames.map((day, i) => h("label", {}, h("input", { type: "checkbox", value: String(i), checked: s.days.includes(i) }), day));
    const time = h("input", { type: "time", value: s.time, required: true, "aria-label": `${t.time} — ${channel}` });
    const zone = h("input", { type: "text", value: s.timezone, size: 18, "aria-label": `${t.zone} — ${channel}` });
    const enabled = h("input", { type: "checkbox", checked: s.enabled });
    const status = h("p", { class: "note", role: "status" }, this.scheduleNote(s));
    const form = h("form", { "data-channel": channel, onsubmit: (e) => { e.preventDefault(); this.saveSchedule(channel, form, status); } },
      h("fieldset", {}, h("legend", {}, channel),
        h("div", { class: "row", role: "group", "aria-label": `${t.days} — ${channel}` }, days),
        h("div", { class: "row" }, h("label", {}, t.time, time), h("label", {}, t.zone, zone),
          h("label", {}, enabled, t.enabled), h("button", { type: "submit", class: "primary" }, t.save)),
        status));
    form.read = () => ({ days: days.map((l) => l.firstChild).filter((b) => b.checked).map((b) => Number(b.value)),
      time: time.value, timezone: zone.value.trim() || null, enabled: enabled.checked });
    return form;
  }

  scheduleNote(s) {
    const t = this.t;
    const next = s.next_run_at ? `${t.nextRun}: ${this.dateText(s.next_run_at)}` : "";
    return [next, t.waiting(s.waiting)].filter(Boolean).join(" · ");
  }

  async saveSchedule(channel, form, status) {
    try {
      const saved = await this.client.put(`/v1/digest/${channel}`, form.read());
      status.textContent = `${this.t.saved}. ${this.scheduleNote(saved)}`;
      this.showError(null);
    } catch (err) {
      this.showError(err);
    }
  }
}
