import type tls from 'node:tls';
import { compileConnectionTemplates, type ConnectionTemplates } from '../session/connection-templates.js';
import type { ConnectionSettings } from './protocol.js';
import { tlsDialOptions } from './tls-context.js';
import { buildRequest, canAdopt, isSecureUrl, type UpgradeRequest } from './handshake.js';

/** What a worker compiles once from the connection settings for all its attempts. */
export interface CompiledTemplates extends ConnectionTemplates {
  /**
   * Who does the opening handshake: wsrace (handshake.ts), or ws's client where wsrace does not
   * (permessage-deflate; WSRACE_HANDSHAKE=ws forces it, to compare the two).
   */
  handshake: 'wsrace' | 'ws';
  /** The upgrade request when it is the same for every attempt (nothing templated, and valid). */
  request: UpgradeRequest | null;
  /** TLS options for wss:// (null for ws://) with the worker's one SecureContext, spread into each dial's own options (dial adds to them). */
  tlsOptions: tls.ConnectionOptions | null;
}

export function compileTemplates(s: ConnectionSettings): CompiledTemplates {
  const texts = compileConnectionTemplates({ ...s, stepTexts: (s.steps ?? []).map((st) => (st.kind === 'send' ? st.text : null)) });
  let request: UpgradeRequest | null = null;
  try {
    if (texts.constant) request = buildRequest(s.url, s.headers, s.subprotocols);
  } catch {
    // an invalid request: every attempt fails with it, counted (built again per attempt)
  }
  return {
    ...texts,
    handshake: canAdopt && !s.perMessageDeflate && process.env.WSRACE_HANDSHAKE !== 'ws' ? 'wsrace' : 'ws',
    request,
    tlsOptions: isSecureUrl(s.url) ? tlsDialOptions(s.tls) : null,
  };
}
