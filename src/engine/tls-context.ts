import tls from 'node:tls';
import type { ConnectionSettings } from './protocol.js';

/**
 * The TLS options of a worker's wss:// dials: one SecureContext (the CA store, OpenSSL's SSL_CTX)
 * made once, shared by every attempt. Without it tls.connect makes a context per socket: on this
 * 2-core VM 146 µs each with the default roots and 289 µs with a scenario's `ca`, on the worker's
 * thread, for every attempt. Sharing it does not let the target see returning clients: Node's
 * contexts keep no client session cache (a session is resumed only when passed as `session`,
 * which wsrace never does), so every attempt is still a full handshake (test/sessions.test.ts
 * counts them on the server). Verification stays per socket: rejectUnauthorized and the name check.
 * Whether an attempt dials through TLS at all is decided once, from the URL's scheme (isSecureUrl).
 */
export function tlsDialOptions(settings: ConnectionSettings['tls']): tls.ConnectionOptions {
  // Without target.tls, rejectUnauthorized stays unset: Node's default then, NODE_TLS_REJECT_UNAUTHORIZED included.
  if (settings === null) return { secureContext: tls.createSecureContext({}) };
  return {
    secureContext: tls.createSecureContext(settings.ca !== undefined ? { ca: settings.ca } : {}),
    rejectUnauthorized: !settings.insecure,
    servername: settings.servername,
  };
}
