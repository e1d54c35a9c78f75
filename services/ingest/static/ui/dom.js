// DOM building without innerHTML or inline styles (nothing a strict CSP would block) and
// the shared stylesheet, adopted by each shadow root (a constructable stylesheet is CSSOM,
// not an inline <style>). Theme through the --herald-* custom properties.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && !key.includes("-") && key !== "list") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return el;
}

const CSS = `
:host { display: block; font: var(--herald-font, 15px/1.4 system-ui, sans-serif);
  color: var(--herald-fg, #1c2024); background: var(--herald-bg, #fff);
  border-radius: var(--herald-radius, 8px); }
[hidden] { display: none !important; }
button, select, input, textarea { font: inherit; }
button { cursor: pointer; border: 1px solid var(--herald-border, #adb5bd); background: var(--herald-button-bg, #f8f9fa);
  color: inherit; border-radius: 4px; padding: .2rem .6rem; }
button.primary { background: var(--herald-accent, #1864ab); color: var(--herald-accent-fg, #fff); border-color: transparent; }
:focus-visible { outline: 3px solid var(--herald-focus, #f08c00); outline-offset: 2px; }
.bar { display: flex; align-items: center; gap: .75rem; padding: .6rem 1rem;
  background: var(--herald-bar-bg, #1f2a44); color: var(--herald-bar-fg, #fff);
  border-radius: var(--herald-radius, 8px) var(--herald-radius, 8px) 0 0; }
.bar h2 { font-size: 1.1rem; margin: 0; flex: 1; }
.bell { position: relative; background: none; border: 0; color: inherit; padding: .2rem .4rem; }
.badge { position: absolute; top: -.3rem; right: -.5rem; min-width: 1.2rem; padding: 0 .3rem;
  border-radius: 1rem; background: var(--herald-badge-bg, #c92a2a); color: var(--herald-badge-fg, #fff);
  font-size: .75rem; font-weight: 700; line-height: 1.2rem; text-align: center; }
.badge[data-count="0"] { background: var(--herald-badge-zero-bg, #5c636a); }
.status { font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; background: #495057; color: #fff; }
.status[data-state="live"] { background: var(--herald-live, #1e6b30); }
.status[data-state="reconnecting"], .status[data-state="catchingUp"] { background: #a84300; }
.status[data-state="offline"] { background: #c92a2a; }
.panel { padding: .75rem 1rem; }
.toolbar { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; margin-bottom: .75rem; }
.toolbar .spacer { flex: 1; }
.list { list-style: none; margin: 0; padding: 0; }
.item { padding: .6rem .8rem; margin-bottom: .5rem; border-radius: 6px;
  border-left: 4px solid var(--herald-read, #adb5bd); background: var(--herald-item-bg, #f8f9fa); }
.item.unread { border-left-color: var(--herald-accent, #1864ab); }
.item.unread .title { font-weight: 700; }
.item .head { display: flex; justify-content: space-between; gap: 1rem; font-size: .8rem;
  color: var(--herald-muted, #495057); }
.item .body { color: var(--herald-muted, #495057); white-space: pre-wrap; }
.item .actions { display: flex; gap: .5rem; margin-top: .4rem; font-size: .85rem; }
.error { color: var(--herald-error, #c92a2a); font-weight: 600; }
.note { color: var(--herald-muted, #495057); font-size: .85rem; }
section { margin-bottom: 1.5rem; }
h3 { font-size: 1rem; margin: 0 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--herald-border, #dee2e6); vertical-align: top; }
fieldset { border: 1px solid var(--herald-border, #dee2e6); border-radius: 6px; margin: 0 0 .75rem; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .3rem 0; }
label { display: inline-flex; gap: .3rem; align-items: center; }
.matches { font-size: .85rem; margin: .25rem 0; padding-left: 1.2rem; }
`;

let shared = null;

export function adoptStyles(root) {
  if (!shared) {
    shared = new CSSStyleSheet();
    shared.replaceSync(CSS);
  }
  root.adoptedStyleSheets = [shared];
}

const BELL_PATH =
  "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z";

export function bellIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [k, v] of Object.entries({ width: 24, height: 24, viewBox: "0 0 24 24", fill: "currentColor", "aria-hidden": "true" })) {
    svg.setAttribute(k, String(v));
  }
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", BELL_PATH);
  svg.append(path);
  return svg;
}
