import { randomUUID } from 'node:crypto';

/** What a per-connection template can read. */
export interface TemplateContext {
  conn: number;
  worker: number;
  user: Record<string, string> | null;
  env: NodeJS.ProcessEnv;
}

export type Template = (ctx: TemplateContext) => string;

const PLACEHOLDER = /\$\{(conn|worker|uuid|env\.[A-Za-z_][A-Za-z0-9_]*|user\.[A-Za-z0-9_.-]+)\}/g;

const HAS_PLACEHOLDER = new RegExp(PLACEHOLDER.source); // not global: test() keeps no state

/** True when the text has per-connection placeholders (otherwise it is sent as is). */
export function isTemplated(text: string): boolean {
  return HAS_PLACEHOLDER.test(text);
}

/**
 * Compiles `${conn}`, `${worker}`, `${uuid}`, `${env.X}` and `${user.field}` once; each call
 * fills them for one connection. Text without placeholders compiles to a constant.
 */
export function compileTemplate(text: string): Template {
  if (!isTemplated(text)) return () => text;
  const parts: (string | ((ctx: TemplateContext) => string))[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    parts.push(text.slice(last, m.index));
    const name = m[1];
    if (name === 'conn') parts.push((c) => String(c.conn));
    else if (name === 'worker') parts.push((c) => String(c.worker));
    else if (name === 'uuid') parts.push(() => randomUUID());
    else if (name.startsWith('env.')) {
      const key = name.slice(4);
      parts.push((c) => c.env[key] ?? '');
    } else {
      const field = name.slice(5);
      parts.push((c) => c.user?.[field] ?? '');
    }
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(text.slice(last));
  return (ctx) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(ctx);
    return out;
  };
}

/** The `${env.X}` and `${user.x}` names a text refers to. */
function references(text: string): { env: string[]; user: string[] } {
  const out = { env: [] as string[], user: [] as string[] };
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (m[1].startsWith('env.')) out.env.push(m[1].slice(4));
    else if (m[1].startsWith('user.')) out.user.push(m[1].slice(5));
  }
  return out;
}

/**
 * Checks, before a run, that every `${env.X}` a template names is set and every `${user.x}` is a
 * field of the test users: otherwise each would become an empty string on every connection (a
 * token-less `Authorization: Bearer`), which looks like the server's fault. `texts` maps the
 * key each text came from (target.headers.Authorization) to the text. Returns the first problem.
 */
export function templateProblem(texts: [key: string, text: string][], users: Record<string, string>[] | null, env: NodeJS.ProcessEnv): string | null {
  for (const [key, text] of texts) {
    const refs = references(text);
    // Empty counts as unset, as for ${VAR} at load.
    for (const name of refs.env) if (!env[name]) return `${key}: \${env.${name}}: environment variable ${name} is ${env[name] === '' ? 'empty' : 'not set'} (the template reads it on every connection)`;
    for (const field of refs.user) {
      if (!users) return `${key}: \${user.${field}} needs session.users (a CSV with a header row, or a JSON list of users)`;
      const without = users.findIndex((u) => !(field in u));
      if (without >= 0) return `${key}: \${user.${field}}: user ${without + 1} of ${users.length} has no field "${field}" (it has ${Object.keys(users[without]).join(', ') || 'none'})`;
    }
  }
  return null;
}
