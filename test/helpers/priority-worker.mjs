// A thread that lowers itself to workerData.start (always allowed), then asks applyNice for
// workerData.wanted (exactly, or as a favour), and posts the nice it reports. It runs the compiled
// module (dist/ is built by the suite's global setup): a plain worker thread cannot load the
// TypeScript source.
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { applyNice } from '../../dist/engine/priority.js';

os.setPriority(0, workerData.start);
parentPort.postMessage(applyNice({ nice: workerData.wanted, exact: workerData.exact }));
