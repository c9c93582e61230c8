import { populationRun, memoryOf } from './population.mjs';
const clients = Number(process.argv[2] ?? 50000);
const nice = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const t = Date.now();
const r = await populationRun({ clients, wsraceProcesses: 3, simProcesses: 4, sources: '127.0.1.1-127.0.1.16', nice });
const s = r.summary;
const q = r.lags;
console.log(JSON.stringify({ started: new Date(t).toISOString(), code: r.code, clients: r.clients.clients, connected: r.clients.connected, neverBack: s.clients?.neverBack, gaveUp: s.clients?.gaveUp, dropped: s.clients?.dropped, disconnects: s.disconnects?.total, truth: r.truth, lags: q, retryLagMs: s.clients?.retryLagMs, mem: memoryOf(r, clients), plan: r.plan, simAt: r.simAt, t0: s.t0EpochMs, msgs: s.messages && { sent: s.messages.sent, lost: s.messages.lost } }));
