/** Header names whose values are always secrets. */
const ALWAYS_SECRET = new Set(['authorization', 'cookie', 'proxy-authorization', 'x-api-key']);
export const REDACTED = '[redacted]';

/** Header values for reports: secrets replaced, names kept so the user sees what was sent. */
export function redactHeaders(headers: Record<string, string>, secretNames: readonly string[] = []): Record<string, string> {
  const secret = new Set([...ALWAYS_SECRET, ...secretNames.map((n) => n.toLowerCase())]);
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, secret.has(k.toLowerCase()) ? REDACTED : v]));
}

/** Subprotocols that carry tokens (the backend's `jwt.<token>`) are redacted. */
export function redactSubprotocols(protocols: readonly string[]): string[] {
  return protocols.map((p) => (/^(jwt|bearer|token)[.:]/i.test(p) ? `${p.split(/[.:]/)[0]}.${REDACTED}` : p));
}

/**
 * Credentials are redacted from URLs: userinfo (a user name alone is often a token: `wss://TOKEN@host`)
 * and the query parameters that commonly carry tokens.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username) u.username = REDACTED;
    if (u.password) u.password = REDACTED;
    for (const key of [...u.searchParams.keys()]) {
      if (/token|auth|key|secret|password|jwt|sig/i.test(key)) u.searchParams.set(key, REDACTED);
    }
    return u.toString();
  } catch {
    return url;
  }
}

/** Replaces every occurrence of the secret values in every string of a JSON-like value. */
export function redactValues<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return sorted.reduce((text, secret) => text.split(secret).join(REDACTED), v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
