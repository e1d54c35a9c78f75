// Saved-filter subscriptions: list, create, edit with a live preview of what would match,
// delete. The preview endpoint is rate limited per user (429 + Retry-After): edits are
// debounced, one preview runs at a time, and a 429 waits out its Retry-After, then runs the
// newest state of the form once.
import { h } from "./dom.js";

const OPS = ["eq", "ne", "in", "not_in", "gte", "lte", "between", "within_days",
  "due_within_days", "overdue", "older_than_days", "users_any", "roles_any", "companies_any"];
const SCOPES = ["attributes", "payload", "event"];
const DEBOUNCE_MS = 600;

function parseValue(text) {
  try { return JSON.parse(text); } catch { return text; } // 7, true, ["a"] or a plain word
}

function showValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export class SubscriptionsSection {
  constructor(client, t, showError, channels) {
    this.client = client;
    this.channels = channels; // () => the channels the server knows (from the preferences)
    this.t = t;
    this.showError = showError;
    this.list = h("ul", { class: "list subscriptions" });
    this.editor = h("div", { class: "editor" });
    this.root = h("div", {}, this.list,
      h("button", { type: "button", class: "new-subscription", onclick: () => this.edit(null) }, t.create), this.editor);
    this.timer = null;
    this.busy = false;
    this.again = false;
  }

  async load() {
    try {
      this.rows = await this.client.get("/v1/subscriptions");
    } catch (err) {
      this.showError(err);
      return;
    }
    const t = this.t;
    this.list.replaceChildren(...(this.rows.length ? this.rows.map((s) => h("li", { class: "item", "data-id": s.id },
      h("div", { class: "title" }, s.name),
      h("div", { class: "note" }, `${s.source} · ${s.entity_type}${s.project_id ? ` · ${s.project_id}` : ""} · ${s.channels.join(", ")} · ${s.enabled ? t.on : t.off}`),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "edit", "aria-label": `${t.edit}: ${s.name}`, onclick: () => this.edit(s) }, t.edit),
        h("button", { type: "button", class: "delete", "aria-label": `${t.del}: ${s.name}`, onclick: () => this.remove(s) }, t.del))))
      : [h("li", { class: "note" }, t.noSubscriptions)]));
  }

  async remove(sub) {
    try {
      await this.client.del(`/v1/subscriptions/${sub.id}`);
      this.showError(null);
      if (this.editing && this.editing.id === sub.id) this.close();
    } catch (err) {
      this.showError(err);
    }
    await this.load();
  }

  close() {
    clearTimeout(this.timer);
    this.editing = null;
    this.editor.replaceChildren();
  }

  edit(sub) {
    const t = this.t;
    const s = sub || { name: "", source: "", entity_type: "", project_id: null, types: [], filter: [], channels: ["browser"], enabled: true };
    this.editing = sub;
    const input = (label, value, name) => h("label", {}, label, h("input", { type: "text", name, value: value || "", oninput: () => this.schedule() }));
    const fields = {
      name: input(t.name, s.name, "name"), source: input(t.source, s.source, "source"),
      entity: input(t.entityType, s.entity_type, "entity_type"), project: input(t.project, s.project_id, "project_id"),
      types: input(t.types, s.types.join(", "), "types"),
    };
    this.conditions = h("div", { class: "conditions", role: "group", "aria-label": t.conditions });
    s.filter.forEach((c) => this.addCondition(c));
    this.channelBoxes = this.channels().map((c) => h("label", {}, h("input", { type: "checkbox", value: c, checked: s.channels.includes(c) }), c));
    this.enabledBox = h("input", { type: "checkbox", checked: s.enabled });
    this.previewBox = h("div", { class: "preview", role: "status", "aria-live": "polite" });
    this.fields = fields;
    const form = h("form", { class: "subscription-form", onsubmit: (e) => { e.preventDefault(); this.save(); } },
      h("fieldset", {}, h("legend", {}, sub ? `${t.edit}: ${sub.name}` : t.create),
        h("div", { class: "row" }, fields.name, fields.source, fields.entity, fields.project),
        h("div", { class: "row" }, fields.types),
        h("h4", {}, t.conditions), this.conditions,
        h("button", { type: "button", class: "add-condition", onclick: () => { this.addCondition(null); this.schedule(); } }, t.addCondition),
        h("div", { class: "row", role: "group", "aria-label": "channels" }, this.channelBoxes, h("label", {}, this.enabledBox, t.enabled)),
        h("h4", {}, t.preview), this.previewBox,
        h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t.save),
          h("button", { type: "button", onclick: () => this.close() }, t.cancel))));
    this.editor.replaceChildren(form);
    fields.name.querySelector("input").focus();
    this.schedule();
  }

  addCondition(c) {
    const t = this.t;
    const cond = c || { in: "attributes", field: "", op: "eq", value: "" };
    const scope = h("select", { "aria-label": t.scope, onchange: () => this.schedule() }, SCOPES.map((s) => h("option", { value: s }, t.scopes[s])));
    scope.value = cond.in || "attributes";
    const field = h("input", { type: "text", "aria-label": t.field, value: cond.field, oninput: () => this.schedule() });
    const op = h("select", { "aria-label": t.op, onchange: () => this.schedule() }, OPS.map((o) => h("option", { value: o }, o)));
    op.value = cond.op;
    const value = h("input", { type: "text", "aria-label": t.value, value: showValue(cond.value), oninput: () => this.schedule() });
    const row = h("div", { class: "row condition" }, scope, field, op, value,
      h("button", { type: "button", "aria-label": `${t.remove}: ${t.conditions}`, onclick: () => { row.remove(); this.schedule(); } }, t.remove));
    row.read = () => ({ in: scope.value, field: field.value.trim(), op: op.value, value: parseValue(value.value.trim()) });
    this.conditions.append(row);
  }

  scope() {
    const v = (k) => this.fields[k].querySelector("input").value.trim();
    return {
      source: v("source"), entity_type: v("entity"), project_id: v("project") || null,
      types: v("types").split(",").map((x) => x.trim()).filter(Boolean),
      filter: [...this.conditions.children].map((row) => row.read()),
    };
  }

  body() {
    return { ...this.scope(), name: this.fields.name.querySelector("input").value.trim(),
      channels: this.channelBoxes.map((l) => l.firstChild).filter((b) => b.checked).map((b) => b.value),
      enabled: this.enabledBox.checked };
  }

  schedule(delayMs = DEBOUNCE_MS) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.preview(), delayMs);
  }

  async preview() {
    if (this.busy) { this.again = true; return; } // one at a time; the newest form runs next
    const scope = this.scope();
    if (!scope.source || !scope.entity_type) { this.previewBox.replaceChildren(); return; }
    this.busy = true;
    try {
      const result = await this.client.post("/v1/subscriptions/preview", scope);
      this.previewBox.replaceChildren(h("p", { class: "matched" }, this.t.previewResult(result.matched, result.scanned)),
        h("ul", { class: "matches" }, result.events.slice(0, 10).map((e) => h("li", {}, `${e.type} · ${e.entity_id}${e.project_id ? ` · ${e.project_id}` : ""}`))));
    } catch (err) {
      if (err.status === 429) {
        const waitS = err.retryAfterS || 1;
        this.previewBox.replaceChildren(h("p", { class: "note rate-limited" }, this.t.rateLimited(waitS)));
        this.schedule(waitS * 1000);
      } else {
        this.previewBox.replaceChildren(h("p", { class: "error" }, err.message));
      }
    } finally {
      this.busy = false;
    }
    if (this.again) { this.again = false; this.schedule(0); }
  }

  async save() {
    const sub = this.editing;
    try {
      if (sub) await this.client.put(`/v1/subscriptions/${sub.id}`, this.body());
      else await this.client.post("/v1/subscriptions", this.body());
      this.showError(null);
      this.close();
    } catch (err) {
      this.showError(err);
      return;
    }
    await this.load();
  }
}
