import { isHeaderName, isHeaderValue, isToken } from './header-syntax.js';
import { compileTemplate } from './template.js';

/**
 * Checks, before a run, what the URL, headers and subprotocols become with every test user (and
 * the environment): a value no client can send (a `#` in the URL, a non-ASCII header value, a
 * subprotocol with a space) would fail every attempt of that user, counted as the server's
 * failures. `texts` maps the key each text came from to the text. Returns the first problem.
 */
export function expansionProblem(texts: [key: string, text: string][], users: Record<string, string>[] | null, env: NodeJS.ProcessEnv): string | null {
  const contexts = (users ?? [null]).map((user) => ({ conn: 0, worker: 0, user, env }));
  for (const [key, text] of texts) {
    const template = compileTemplate(text);
    for (let u = 0; u < contexts.length; u++) {
      const value = template(contexts[u]);
      const problem = valueProblem(key, value);
      if (problem === null) continue;
      const who = users && users.length > 1 && text.includes('${user.') ? ` with user ${u + 1} of ${users.length}` : '';
      return `${key}${who}: ${problem}, found ${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)}`;
    }
  }
  return null;
}

function valueProblem(key: string, value: string): string | null {
  if (key === 'target.url') {
    try {
      const u = new URL(value);
      if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return 'expected a ws:// or wss:// URL';
    } catch {
      return 'expected a valid URL once filled in';
    }
    return value.includes('#') ? 'expected no # in the URL once filled in (a fragment; encode it as %23)' : null;
  }
  if (key.startsWith('target.headers.')) {
    // Node's checks (header-syntax.ts), which the handshake applies: they would fail every attempt.
    const name = key.slice('target.headers.'.length);
    if (!isHeaderName(name)) return `expected a header name of letters, digits and !#$%&'*+-.^_\`|~ (found "${name}")`;
    if (!isHeaderValue(value)) return 'expected a header value without control characters or characters beyond Latin-1 (encode them)';
    return null;
  }
  if (key.startsWith('target.subprotocols')) return isToken(value) ? null : "expected a subprotocol token: letters, digits and !#$%&'*+-.^_`|~, no spaces or commas";
  return null;
}
