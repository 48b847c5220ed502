// The console talks to /graphql like any other client: persisted documents by hash (the server
// always knows the console's manifest, also in trusted-documents mode), subscriptions over
// graphql-transport-ws, the caller's token in the Authorization header.
import { createClient } from '../vendor/graphql-ws.js';

const STORE = window.sessionStorage; // kept for this tab only
let manifest = {};
let ws = null;

export async function loadManifest() {
  const res = await fetch('./persisted-documents.json');
  const data = await res.json();
  manifest = Object.fromEntries(data.operations.map((op) => [op.name, op]));
}

export const session = {
  get() {
    try {
      return JSON.parse(STORE.getItem('c2m.session') || 'null');
    } catch {
      return null;
    }
  },
  set(value) {
    if (value) STORE.setItem('c2m.session', JSON.stringify(value));
    else STORE.removeItem('c2m.session');
    if (ws) {
      ws.dispose();
      ws = null;
    }
  },
  bearer() {
    const s = this.get();
    if (!s) return null;
    return s.factoryKey || s.accessToken;
  },
};

async function post(body) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json;q=0.9',
  };
  const bearer = session.bearer();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify(body) });
  let data;
  try {
    data = await res.json();
  } catch {
    data = { errors: [{ message: `HTTP ${res.status}`, extensions: { code: 'HTTP_ERROR' } }] };
  }
  if (res.status === 429) data.retryAfter = res.headers.get('retry-after');
  return data;
}

function codes(data) {
  return (data.errors || []).map((e) => (e.extensions || {}).code);
}

async function refresh() {
  const s = session.get();
  if (!s || !s.refreshToken) return false;
  const op = manifest.ConsoleRefresh;
  const out = await post({
    operationName: op.name,
    variables: { refreshToken: s.refreshToken },
    extensions: { persistedQuery: { version: 1, sha256Hash: op.id } },
  });
  const next = out.data && out.data.refreshSession && out.data.refreshSession.session;
  if (!next) {
    session.set(null);
    return false;
  }
  session.set({ ...s, ...next });
  return true;
}

// Runs a named document: { data, errors } as the server answered (errors: GraphQL errors).
export async function gql(name, variables = {}) {
  const op = manifest[name];
  if (!op) throw new Error(`unknown document ${name}`);
  const body = {
    operationName: name,
    variables,
    extensions: { persistedQuery: { version: 1, sha256Hash: op.id } },
  };
  let data = await post(body);
  if (codes(data).includes('PERSISTED_QUERY_NOT_FOUND')) data = await post({ ...body, query: op.body });
  const expired = codes(data).some((c) => c === 'TOKEN_EXPIRED' || c === 'INVALID_TOKEN');
  if (expired && (await refresh())) data = await post(body);
  return data;
}

// A mutation's payload: { ok, payload, errors } where errors are the payload's typed errors
// (code, field, message) or a GraphQL error shaped the same way.
export async function mutate(name, variables, field) {
  const out = await gql(name, variables);
  if (out.errors && out.errors.length) {
    return {
      ok: false,
      errors: out.errors.map((e) => ({ code: (e.extensions || {}).code, message: e.message, field: (e.extensions || {}).field })),
    };
  }
  const payload = out.data[field];
  return { ok: !payload.errors || payload.errors.length === 0, payload, errors: payload.errors || [] };
}

function socket() {
  if (!ws) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    ws = createClient({
      url,
      lazy: true,
      connectionParams: () => {
        const bearer = session.bearer();
        return bearer ? { Authorization: `Bearer ${bearer}` } : {};
      },
      retryAttempts: 10,
    });
  }
  return ws;
}

// Follows a subscription; returns a function that stops it.
export function subscribe(name, variables, onData, onError) {
  const op = manifest[name];
  return socket().subscribe(
    {
      operationName: name,
      query: op.body,
      variables,
      extensions: { persistedQuery: { version: 1, sha256Hash: op.id } },
    },
    {
      next: (msg) => msg.data && onData(msg.data),
      error: (err) => onError && onError(err),
      complete: () => {},
    },
  );
}
