// What both elements share: the shadow root with the shared stylesheet, and the token
// provider property. The element starts once it is in the document AND has a provider,
// whichever comes first; a provider set before the module loaded (an own property on the
// not-yet-upgraded element) is taken over.
import { Client } from "./client.js";
import { adoptStyles } from "./dom.js";
import { pickLocale, strings } from "./i18n.js";

export class HeraldElement extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    adoptStyles(this.shadowRoot);
    let early = null;
    if (Object.prototype.hasOwnProperty.call(this, "tokenProvider")) {
      early = this.tokenProvider;
      delete this.tokenProvider;
    }
    this._provider = early;
    this._started = false;
  }

  get tokenProvider() { return this._provider; }

  set tokenProvider(fn) {
    this._provider = fn;
    this.maybeStart();
  }

  connectedCallback() { this.maybeStart(); }

  async maybeStart() {
    if (this._started || !this.isConnected || typeof this._provider !== "function") return;
    this._started = true;
    const token = await this._provider();
    this.locale = pickLocale(this.getAttribute("locale"), token);
    this.t = strings(this.locale);
    this.client = new Client(this.getAttribute("api-base"), () => this._provider());
    await this.start();
  }

  dateText(iso) {
    return new Date(iso).toLocaleString(this.locale === "ru" ? "ru-RU" : "en-GB");
  }
}
