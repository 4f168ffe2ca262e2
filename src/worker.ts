// A thread of a fan-out (see deploy/fan-out-threads.ts): it rebuilds the run's settings from the
// same inputs, deploys its share of the hosts with fanOut(), and sends back each host's progress,
// result and log. `dist/worker.js`.
import { shareGarbageBudget } from './ssh/heap.js'
import { readFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { parseInputs, type InputEnvironment, type InputName } from './action/inputs.js'
import { fanOut } from './deploy/fan-out.js'
import type { FromThread, ThreadInit, ToThread } from './deploy/fan-out-threads.js'
import type { BarrierPhase, SwitchBarrier } from './deploy/releases/barrier.js'
import { DeployError } from './errors.js'
import { createLocalHasher } from './local/digests.js'

/** What main.ts gives each thread to rebuild the settings from: the inputs as it read them. */
export interface ThreadRun {
  readonly values: Readonly<Record<InputName, string>>
  readonly environment: Omit<InputEnvironment, 'readFile' | 'path'>
}

const init = workerData as ThreadInit
const port = parentPort
if (port === null) throw new Error('dist/worker.js runs as a worker thread of a deploy')
const { values, environment } = init.run as ThreadRun
shareGarbageBudget(init.threads)

const all = parseInputs((name) => values[name], {
  ...environment,
  readFile: (path) => readFileSync(path, 'utf8')
})
const hosts = init.hosts.map((index) => {
  const host = all.hosts[index]
  if (host === undefined) throw new Error(`the run has no host ${index}`)
  return host
})
const numbers = new Map(hosts.map((host, local) => [host.label, init.hosts[local] ?? local]))

const controller = new AbortController()
const verdicts = new Map<BarrierPhase, (ok: boolean) => void>()
port.on('message', (message: ToThread) => {
  if (message.type === 'verdict') verdicts.get(message.phase)?.(message.ok)
  else controller.abort(new DeployError('aborted', message.reason))
})
const send = (message: FromThread): void => port.postMessage(message)
/** `switch: together`: this thread's vote goes to the main thread, which answers for the run. */
const barrier: SwitchBarrier = {
  vote: (phase, ok) =>
    new Promise((resolve) => {
      verdicts.set(phase, resolve)
      send({ type: 'vote', phase, ok })
    })
}

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
    hostDone: (result, log) =>
      send({ type: 'done', index: numbers.get(result.host) ?? -1, result, log })
  }
})
port.close()
