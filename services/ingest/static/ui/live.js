// One websocket to the gateway with the cursor resume contract (docs/websocket-protocol.md):
// the last cursor seen goes back in `auth.resume`; the gateway replays what was missed, then
// `resumed`, then live. Closes other than "bad token" reconnect with exponential backoff and
// jitter; 4401 asks the provider for a fresh token once, then gives up (the user must sign in).
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
const BAD_TOKEN = 4401;
const TOKEN_EXPIRED = 1008;

export class Live {
  constructor(url, tokenProvider, handlers) {
    this.url = url;
    this.tokenProvider = tokenProvider;
    this.handlers = handlers; // {frame(f), state(name, detail)}
    this.cursor = null;
    this.retryMs = RETRY_MIN_MS;
    this.refusals = 0;
    this.socket = null;
    this.timer = null;
    this.pinger = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  connect() {
    if (this.stopped) return;
    this.handlers.state(this.cursor ? "catchingUp" : "connecting");
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => this.authenticate(socket);
    socket.onmessage = (event) => this.receive(socket, event.data);
    socket.onclose = (event) => this.closed(socket, event.code);
  }

  async authenticate(socket) {
    try {
      const auth = { type: "auth", token: String(await this.tokenProvider()) };
      if (this.cursor) auth.resume = this.cursor; // replayed before anything live
      socket.send(JSON.stringify(auth));
    } catch {
      socket.close(4000); // the provider failed: retry with backoff
    }
  }

  receive(socket, data) {
    if (socket !== this.socket) return;
    const frame = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
    if (frame.type === "welcome") {
      this.retryMs = RETRY_MIN_MS;
      this.refusals = 0;
      this.keepAlive(socket, frame.idle_timeout_s);
      const resuming = Boolean(this.cursor);
      if (!resuming) this.cursor = frame.cursor;
      this.handlers.state(resuming ? "catchingUp" : "live");
      this.handlers.frame({ ...frame, resuming });
      return;
    }
    if (frame.cursor && (frame.type === "notification" || frame.type === "resumed")) {
      this.cursor = frame.cursor;
    }
    if (frame.type === "resumed") this.handlers.state("live");
    this.handlers.frame(frame);
  }

  keepAlive(socket, idleS) {
    clearInterval(this.pinger);
    const everyMs = Math.max(5, (idleS || 60) / 2) * 1000; // inside the gateway's idle limit
    this.pinger = setInterval(() => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
    }, everyMs);
  }

  closed(socket, code) {
    if (socket !== this.socket) return;
    clearInterval(this.pinger);
    if (this.stopped) return;
    if (code === BAD_TOKEN && ++this.refusals > 1) {
      this.handlers.state("offline"); // a fresh token was refused too: retrying cannot help
      return;
    }
    // a bad or expired token: the provider is asked for a fresh one at once
    const delay = code === BAD_TOKEN || code === TOKEN_EXPIRED ? 0 : this.backoff();
    this.handlers.state("reconnecting", Math.ceil(delay / 1000));
    this.timer = setTimeout(() => this.connect(), delay);
  }

  backoff() {
    const delay = this.retryMs * (0.5 + Math.random() / 2); // jitter: not every tab at once
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    return delay;
  }
}
