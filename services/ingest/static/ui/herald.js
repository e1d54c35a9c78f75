// Herald's UI components: <herald-inbox> and <herald-preferences>. One ES module, no build
// step, no framework. The host page sets `tokenProvider` (a function returning a fresh JWT,
// sync or async) before inserting the element, and the attributes `api-base` (the user API),
// `ws-url` (the websocket gateway) and optionally `locale` ("en" or "ru"). docs/ui-components.md
import { HeraldInbox } from "./inbox.js";
import { HeraldPreferences } from "./preferences.js";

if (!customElements.get("herald-inbox")) customElements.define("herald-inbox", HeraldInbox);
if (!customElements.get("herald-preferences")) customElements.define("herald-preferences", HeraldPreferences);

export { HeraldInbox, HeraldPreferences };
