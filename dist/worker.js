import { createRequire as __sfdCreateRequire } from 'node:module';
import { fileURLToPath as __sfdFileURLToPath } from 'node:url';
import { dirname as __sfdDirname } from 'node:path';
const __filename = __sfdFileURLToPath(import.meta.url);
const __dirname = __sfdDirname(__filename);
const require = __sfdCreateRequire(import.meta.url);
import { x as shareGarbageBudget, m as parseInputs, D as DeployError, u as fanOut, q as createLocalHasher } from './chunks/inputs.js';
import { readFileSync } from 'node:fs';
import { workerData, parentPort } from 'node:worker_threads';
import 'node:crypto';
import 'node:path';
import 'node:fs/promises';
import 'node:net';
import 'node:v8';
import 'node:vm';
import 'node:string_decoder';
import 'node:os';
import 'net';
import 'stream';
import 'path';
import 'fs';
import 'child_process';
import 'crypto';
import 'assert';
import 'buffer';
import 'events';
import 'util';
import 'dns';
import 'zlib';
import 'process';

// A thread of a fan-out (see deploy/fan-out-threads.ts): it rebuilds the run's settings from the
// same inputs, deploys its share of the hosts with fanOut(), and sends back each host's progress,
// result and log. `dist/worker.js`.
const init = workerData;
const port = parentPort;
if (port === null)
    throw new Error('dist/worker.js runs as a worker thread of a deploy');
const { values, environment } = init.run;
shareGarbageBudget(init.threads);
const all = parseInputs((name) => values[name], {
    ...environment,
    readFile: (path) => readFileSync(path, 'utf8')
});
const hosts = init.hosts.map((index) => {
    const host = all.hosts[index];
    if (host === undefined)
        throw new Error(`the run has no host ${index}`);
    return host;
});
const numbers = new Map(hosts.map((host, local) => [host.label, init.hosts[local] ?? local]));
const controller = new AbortController();
const verdicts = new Map();
port.on('message', (message) => {
    if (message.type === 'verdict')
        verdicts.get(message.phase)?.(message.ok);
    else
        controller.abort(new DeployError('aborted', message.reason));
});
const send = (message) => port.postMessage(message);
/** `switch: together`: this thread's vote goes to the main thread, which answers for the run. */
const barrier = {
    vote: (phase, ok) => new Promise((resolve) => {
        verdicts.set(phase, resolve);
        send({ type: 'vote', phase, ok });
    })
};
await fanOut({
    settings: { ...all, hosts, maxParallel: init.maxParallel },
    plan: init.plan,
    localHasher: createLocalHasher(),
    signal: controller.signal,
    progressIntervalMs: init.progressIntervalMs,
    followOnThisMachine: init.followOnThisMachine,
    runToken: init.runToken,
    hostNumbers: init.hosts,
    memoryBytes: init.memoryBytes,
    barrier,
    reporter: {
        progress: (running) => send({ type: 'progress', hosts: running }),
        hostDone: (result, log) => send({ type: 'done', index: numbers.get(result.host) ?? -1, result, log })
    }
});
port.close();
