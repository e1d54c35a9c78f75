// The user API over fetch: a fresh token from the host's provider on every call, errors as
// ApiError carrying the server's {error: {code, message}} and Retry-After (docs/user-api.md).
export class ApiError extends Error {
  constructor(status, code, message, retryAfterS) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

export class Client {
  constructor(apiBase, tokenProvider) {
    this.base = String(apiBase || location.origin).replace(/\/$/, "");
    this.tokenProvider = tokenProvider;
  }

  async token() {
    if (typeof this.tokenProvider !== "function") {
      throw new ApiError(401, "unauthorized", "no token provider", null);
    }
    return String(await this.tokenProvider());
  }

  async call(method, path, body) {
    const headers = { Authorization: `Bearer ${await this.token()}` };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(this.base + path, init);
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = (data && data.error) || {};
      const retry = Number(response.headers.get("Retry-After")) || null;
      throw new ApiError(response.status, error.code || "http", error.message || `HTTP ${response.status}`, retry);
    }
    return data;
  }

  get(path) { return this.call("GET", path); }
  post(path, body) { return this.call("POST", path, body === undefined ? {} : body); }
  put(path, body) { return this.call("PUT", path, body); }
  del(path) { return this.call("DELETE", path); }
}
