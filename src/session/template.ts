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
