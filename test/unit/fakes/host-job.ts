// A host's job as fan-out builds it, for a fake host: settings from inputs, a plan of files in a
// workspace, and a log the test can read.

import { parseInputs, type InputName } from '../../../src/action/inputs.js'
import { type Settings } from '../../../src/config/settings.js'
import { createSessionGate } from '../../../src/deploy/session-gate.js'
import { createHostProgress } from '../../../src/deploy/progress.js'
import type { HostJob } from '../../../src/deploy/types.js'
import { createChunkReader } from '../../../src/local/chunk-reader.js'
import { createLocalHasher } from '../../../src/local/digests.js'
import { buildPlan, type Plan } from '../../../src/local/plan.js'
import { MAX_CHUNK } from '../../../src/transfer/upload.js'
import { workspace } from '../../helpers/workspace.js'
import type { FakeHost } from './fake-host.js'

/** Settings from action inputs, with what every test needs given (`source` in `workspace`). */
export function testSettings(
  inputs: Partial<Record<InputName, string>> = {},
  dir = workspace({})
): Settings {
  const given: Partial<Record<InputName, string>> = {
    host: 'fake.example',
    username: 'u',
    password: 'secret',
    'insecure-ignore-host-key': 'true',
    source: '**',
    target: 'site',
    'retry-delay': '1ms',
    ...inputs
  }
  return parseInputs((name) => given[name] ?? '', {
    workspace: dir,
    readFile: () => '',
    variables: {}
  })
}

/** The files of `files` (path to content) in a new workspace, and settings for it. */
export async function testPlan(
  files: Record<string, string | Buffer>,
  inputs: Partial<Record<InputName, string>> = {}
): Promise<{ settings: Settings; plan: Plan }> {
  const settings = testSettings(inputs, workspace(files))
  return { settings, plan: await buildPlan(settings) }
}

export interface TestJob {
  readonly job: HostJob
  /** The host's log, warnings prefixed `warning: `. */
  readonly lines: string[]
}

export function testJob(
  host: Pick<FakeHost, 'connect'>,
  settings: Settings,
  plan: Plan,
  index = 0
): TestJob {
  const lines: string[] = []
  const target = settings.hosts[index]
  if (target === undefined) throw new Error(`no host ${index} in the settings`)
  const job: HostJob = {
    host: target,
    settings,
    plan,
    localHasher: createLocalHasher(),
    hostToken: `test-${index}`,
    log: {
      info: (line) => lines.push(line),
      warning: (line) => lines.push(`warning: ${line}`),
      debug: (line) => lines.push(`debug: ${line}`)
    },
    progress: createHostProgress(),
    reader: createChunkReader({ chunkSize: MAX_CHUNK, buffers: 8 }),
    followOnThisMachine: false,
    sessions: createSessionGate(2000),
    connect: (signal) => host.connect(signal)
  }
  return { job, lines }
}
