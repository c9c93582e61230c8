import { compileTemplate, isTemplated, type Template, type TemplateContext } from './template.js';

/** The texts of a connection that templates may fill: the target's, and each message it sends. */
export interface ConnectionTexts {
  url: string;
  headers: Record<string, string>;
  subprotocols: readonly string[];
  /** The send/expect shorthand's messages. */
  send: readonly string[];
  /** session.steps by index: a send step's text, null for other steps. */
  stepTexts: readonly (string | null)[];
}

/** A connection's texts compiled once per worker; each is filled per attempt from its TemplateContext. */
export interface ConnectionTemplates {
  url: Template;
  headers: [string, Template][];
  subprotocols: Template[];
  /** Send texts by index: the shorthand's `send` list, or each step's (null for other steps). */
  sends: Template[];
  stepSends: (Template | null)[];
  /** True when the URL, headers and subprotocols have no placeholders: the same for every attempt. */
  constant: boolean;
}

export function compileConnectionTemplates(t: ConnectionTexts): ConnectionTemplates {
  const all = [t.url, ...Object.values(t.headers), ...t.subprotocols];
  return {
    url: compileTemplate(t.url),
    headers: Object.entries(t.headers).map(([k, v]) => [k, compileTemplate(v)] as [string, Template]),
    subprotocols: t.subprotocols.map(compileTemplate),
    sends: t.send.map(compileTemplate),
    stepSends: t.stepTexts.map((text) => (text === null ? null : compileTemplate(text))),
    constant: !all.some(isTemplated),
  };
}

/** The headers of one attempt, filled in. */
export function fillHeaders(t: ConnectionTemplates, ctx: TemplateContext): Record<string, string> {
  return Object.fromEntries(t.headers.map(([k, tpl]) => [k, tpl(ctx)]));
}

/** The subprotocols of one attempt, filled in. */
export function fillSubprotocols(t: ConnectionTemplates, ctx: TemplateContext): string[] {
  return t.subprotocols.map((tpl) => tpl(ctx));
}
