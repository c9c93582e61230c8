import { compileTemplate, type Template, type TemplateContext } from './template.js';

/** A stream message filled per send: the connection's context, its sequence number, ms since T0. */
export type StreamTemplate = (ctx: TemplateContext | null, seq: number, sentAtMs: number) => string;

const STREAM_PLACEHOLDER = /\$\{(seq|sentAt)\}/g;

/**
 * Compiles session.stream.send once: `${seq}` and `${sentAt}` change with every message, the
 * per-connection placeholders (`${conn}`, `${user.x}` …) with every connection. A message
 * is a few concatenations.
 */
export function compileStreamTemplate(text: string): StreamTemplate {
  const pieces: Template[] = [];
  const holes: ('seq' | 'sentAt')[] = [];
  let last = 0;
  for (const m of text.matchAll(STREAM_PLACEHOLDER)) {
    pieces.push(compileTemplate(text.slice(last, m.index)));
    holes.push(m[1] as 'seq' | 'sentAt');
    last = (m.index ?? 0) + m[0].length;
  }
  pieces.push(compileTemplate(text.slice(last)));
  const constant = pieces.map((p) => p(EMPTY_CONTEXT));
  const fixed = !STREAM_CONNECTION_PLACEHOLDER.test(text);
  return (ctx, seq, sentAtMs) => {
    let out = fixed || ctx === null ? constant[0] : pieces[0](ctx);
    for (let k = 0; k < holes.length; k++) {
      out += holes[k] === 'seq' ? String(seq) : sentAtText(sentAtMs);
      out += fixed || ctx === null ? constant[k + 1] : pieces[k + 1](ctx);
    }
    return out;
  };
}

/**
 * `${sentAt}`: ms with 3 decimals. Not `String(x)`: V8 keeps the text of every number it turns
 * into a string that way in a cache, so each message's unique one outlived the scavenges and was
 * promoted, to die in the old generation (~24 B a message; docs/performance.md, "Message
 * streams"). `toFixed` does not use that cache.
 */
function sentAtText(ms: number): string {
  return ms.toFixed(3);
}

/** Does the text need a connection's context (anything but ${seq} and ${sentAt})? */
const STREAM_CONNECTION_PLACEHOLDER = /\$\{(conn|worker|uuid|env\.|user\.)/;
const EMPTY_CONTEXT: TemplateContext = { conn: 0, worker: 0, user: null, env: {} };
