/**
 * session.servedAfter's default: how long a socket without a stream must stay open after its
 * script before the server closes it to have served its client. A server that accepts and closes
 * at once (racy's 101 then 1011) does so within a round trip; a cut after this long is a drop of
 * a socket that worked. The scenario names it, so it lives at the scenario's layer; record/clients.ts
 * re-exports it for run folders written before the setting.
 */
export const SERVED_AFTER_MS = 1000;
