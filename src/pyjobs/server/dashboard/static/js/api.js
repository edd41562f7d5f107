// The REST API under /api/v1: one fetch wrapper that adds the bearer token and turns the
// server's {"error": {code, message, field}} answers into ApiError.

const BASE = '/api/v1';
const TOKEN_KEY = 'pyjobs.token';

/** An error answer of the API (status 0: the server could not be reached). */
export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** A sentence for an error, with what to do about the usual ones. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return String(error);
  if (error.status === 401) {
    return 'This server needs an access token (401 Unauthorized): enter one with the Token button.';
  }
  if (error.status === 403) return `Forbidden (403): ${error.message}.`;
  return error.message;
}

// The token lives in sessionStorage: it survives reloads of this tab, not the browser.
export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

const unauthorizedListeners = new Set();

/** Call `listener(error)` on every 401, so the page can ask for a token. */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
}

async function request(method, path, { query, body, signal, headers = {} } = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }
  const sent = { Accept: 'application/json, text/plain, application/yaml', ...headers };
  const token = getToken();
  if (token) sent.Authorization = `Bearer ${token}`;
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'The server cannot be reached. Is pyjobs serve running?');
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

async function errorOf(response) {
  let detail = {};
  try {
    detail = (await response.json()).error || {};
  } catch {
    // Not the API's JSON (a proxy's page, say): the status line will have to do.
  }
  const error = new ApiError(
    response.status,
    detail.code || `http_${response.status}`,
    detail.message || `${response.status} ${response.statusText}`,
    detail.field || null,
  );
  if (response.status === 401) unauthorizedListeners.forEach((listener) => listener(error));
  return error;
}

async function json(method, path, options) {
  return (await request(method, path, options)).json();
}

async function text(method, path, options) {
  return (await request(method, path, options)).text();
}

/** A short random key: a retried submit (network error, double click) makes one task. */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export const api = {
  listTasks: ({ status, cursor, limit }, signal) =>
    json('GET', '/tasks', { query: { status, cursor, limit }, signal }),
  getTask: (id, signal) => json('GET', `/tasks/${encodeURIComponent(id)}`, { signal }),
  submit: (spec, key) =>
    json('POST', '/tasks/submit', { body: spec, headers: { 'Idempotency-Key': key } }),
  rerun: (id) => json('POST', `/tasks/${encodeURIComponent(id)}/run`),
  cancel: (id) => json('POST', `/tasks/${encodeURIComponent(id)}/cancel`),
  manifest: (id, run, signal) =>
    text('GET', `/tasks/${encodeURIComponent(id)}/manifest`, { query: { run }, signal }),
  preview: (spec) => text('POST', '/manifests/preview', { body: spec }),

  /**
   * A run's output as decoded text chunks; with `follow`, the server keeps the response open
   * and the chunks keep coming until the run ends. Abort through `signal`.
   */
  async *logs(id, run, { follow = false, signal } = {}) {
    const response = await request('GET', `/tasks/${encodeURIComponent(id)}/logs`, {
      query: { run, follow: follow ? 'true' : undefined },
      signal,
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      // Leaving early (a view closed, a break) must close the connection, not leave it open.
      reader.cancel().catch(() => {});
    }
  },
};
