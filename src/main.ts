// run(): inputs → plan → fan-out → report. The one place where a failure becomes the step's
// result.

import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { stat } from 'node:fs/promises'
import { createActionIO, type ActionIO } from './action/io.js'
import { formatDuration } from './config/duration.js'
import { DeployError, errorMessage, InputError, oneLine } from './errors.js'
import {
  fanOut as fanOutHere,
  MAX_BYTES_IN_MEMORY,
  newRunToken,
  type FanOutOptions
} from './deploy/fan-out.js'
import { fanOutInThreads } from './deploy/fan-out-threads.js'
import { assignHosts, parallelShares, threadCount } from './deploy/threads.js'
import type { ThreadRun } from './worker.js'
import {
  INPUT_NAMES,
  parseInputs,
  SECRET_INPUTS,
  type InputEnvironment,
  type InputName
} from './action/inputs.js'
import { type Destination, type Settings } from './config/settings.js'
import { rollOut, type Rollout } from './deploy/rollout/batches.js'
import { createLocalHasher } from './local/digests.js'
import { buildPlan, type Plan } from './local/plan.js'
import { formatBytes } from './format.js'
import { buildOutputs, summaryMarkdown } from './action/report.js'
import { notAttempted, withJump, type HostResult } from './deploy/result.js'

/** How a run ended: every host deployed, a host failed, or the inputs were refused. */
export type RunOutcome = 'succeeded' | 'failed' | 'invalid'

export interface RunOptions {
  readonly io?: ActionIO
  readonly env?: NodeJS.ProcessEnv
  /** Cancels the run (SIGINT and SIGTERM do too). */
  readonly signal?: AbortSignal
  /** An ssh-agent socket tried before the run's key (the command line's; see InputEnvironment). */
  readonly agent?: string
  /** Key files tried in turn where no key input is given (the command line's; see InputEnvironment). */
  readonly keyFiles?: readonly string[]
  /** The fan-out's thread module (dist/worker.js); without it every host runs on this thread. */
  readonly workerUrl?: URL
}

const DEFAULT_PROGRESS_INTERVAL_MS = 5000

function progressInterval(io: ActionIO, env: NodeJS.ProcessEnv): number {
  if (io.progressIntervalMs !== undefined) return io.progressIntervalMs
  const value = Number(env.SFD_PROGRESS_INTERVAL_MS)
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_PROGRESS_INTERVAL_MS
}

async function checkWorkingDirectory(settings: Settings): Promise<void> {
  const info = await stat(settings.workingDirectory).catch(() => undefined)
  if (info?.isDirectory() !== true)
    throw new InputError(
      'working-directory',
      `'${settings.workingDirectory}' is not a directory on the runner`
    )
}

function writeOutputs(
  io: ActionIO,
  results: readonly HostResult[],
  files: number,
  settings?: Settings
): void {
  const release =
    settings?.releases === undefined || settings.releases.rollback
      ? undefined
      : settings.releases.name
  for (const [name, value] of Object.entries(buildOutputs(results, files, release)))
    io.setOutput(name, value)
}

/** Cancellation by the runner: SIGINT, then SIGTERM, aborts the root signal. */
function rootSignal(extra: AbortSignal | undefined): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => {
    const handler = (): void =>
      controller.abort(new DeployError('aborted', `the run was cancelled (${name})`))
    process.once(name, handler)
    return [name, handler] as const
  })
  const signal =
    extra === undefined ? controller.signal : AbortSignal.any([controller.signal, extra])
  return {
    signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.removeListener(name, handler)
    }
  }
}

/** The hosts' target, quoted, where they share one; else that each has its own. */
function describeTargets(settings: Settings): string {
  const targets = new Set(settings.hosts.map((host) => host.target))
  const [only] = targets
  return targets.size === 1 && only !== undefined ? `'${only}'` : "each host's own target"
}

/** Nothing matched: an error, or a run that contacts no host, as `if-no-files-found` says. */
function noFiles(io: ActionIO, settings: Settings): void {
  const message = `no files match 'source' under working-directory '${settings.workingDirectory}'`
  if (settings.ifNoFilesFound === 'error') throw new InputError('source', message)
  if (settings.ifNoFilesFound === 'warn') io.warning(`${message}; nothing to deploy`)
  else io.info(`${message}; nothing to deploy`)
  const results = settings.hosts.map((host) => notAttempted(host.label, 0, 'no files to deploy'))
  writeOutputs(io, results, 0)
}

/**
 * Each thread's hosts, where more than one thread is worth it and can be started (hosts behind
 * one jump host share a thread, so there may be fewer than threadCount says); else one lane.
 */
function lanesFor(settings: Settings, options: RunOptions): number[][] {
  const count = threadCount(settings.threads, settings.hosts.length, settings.maxParallel)
  const url = options.workerUrl
  if (count === 1 || url === undefined || !existsSync(fileURLToPath(url)))
    return [settings.hosts.map((_, index) => index)]
  return assignHosts(settings.hosts, count)
}

/**
 * One batch's fan-out (every host, where there is one batch): on this thread, or spread over
 * threads, a lane each. Its results in the order of `indexes`.
 */
async function fanOutBatch(
  indexes: readonly number[],
  fanOut: FanOutOptions,
  options: RunOptions,
  thread: ThreadRun,
  runToken: string
): Promise<HostResult[]> {
  const { settings } = fanOut
  const batch = { ...settings, hosts: indexes.map((index) => settings.hosts[index] as Destination) }
  const lanes = lanesFor(batch, options).map((lane) =>
    lane.map((local) => indexes[local] as number)
  )
  if (lanes.length === 1 || options.workerUrl === undefined)
    return fanOutHere({ ...fanOut, settings: batch, hostNumbers: indexes, runToken })
  const all = await fanOutInThreads(fanOut, {
    workerUrl: options.workerUrl,
    run: thread,
    lanes,
    shares: parallelShares(lanes, settings.maxParallel),
    memoryBytes: Math.floor(MAX_BYTES_IN_MEMORY / lanes.length),
    runToken
  })
  return indexes.map((index) => all[index] as HostResult)
}

async function deploy(
  io: ActionIO,
  settings: Settings,
  plan: Plan,
  options: RunOptions,
  thread: ThreadRun
): Promise<RunOutcome> {
  const env = options.env ?? process.env
  const hosts = settings.hosts
  const lanes = lanesFor(settings, options)
  const { releases } = settings
  io.info(
    releases?.rollback === true
      ? `Rolling back ${hosts.length} host(s) at ${describeTargets(settings)} to the release before current (switch ${releases.switchMode}, auth ${settings.authDescription})`
      : `${settings.dryRun ? 'Dry run: planning' : 'Deploying'} ${plan.files.length} file(s), ${formatBytes(plan.totalBytes)}, to ${hosts.length} host(s) at ${describeTargets(settings)} (${releases === undefined ? '' : `release ${releases.name}, switch ${releases.switchMode}, `}verify ${settings.verify}, ${settings.atomic ? 'atomic' : 'in place'}, auth ${settings.authDescription}, ${settings.maxParallel} host(s) at once, ${lanes.length} thread(s))`
  )

  io.start?.(hosts.map((host) => host.label))
  const root = rootSignal(options.signal)
  let results: HostResult[]
  let rollout: Rollout
  try {
    const fanOutOptions: FanOutOptions = {
      settings,
      plan,
      localHasher: createLocalHasher(),
      signal: root.signal,
      progressIntervalMs: progressInterval(io, env),
      // Test hosts run on the runner itself; this lets tests take the path other hosts take.
      followOnThisMachine: env.SFD_FOLLOW_ON_THIS_MACHINE === 'true',
      reporter: {
        progress: (running) => io.progress(running),
        hostDone: (result, log) => {
          const title = `${result.host}: ${result.status} (${result.uploaded} uploaded, ${result.skipped} unchanged, ${formatDuration(result.durationMs)})`
          io.group(
            title,
            log.map((line) =>
              line.level === 'debug'
                ? { text: line.text, debug: true }
                : { text: line.level === 'warning' ? `warning: ${line.text}` : line.text }
            )
          )
          io.hostDone?.(result)
        }
      }
    }
    const runToken = newRunToken()
    rollout = await rollOut(
      settings.rollout,
      hosts.map((host) => host.label),
      plan.files.length,
      (indexes) => fanOutBatch(indexes, fanOutOptions, options, thread, runToken),
      root.signal,
      (line) => io.info(line),
      (result) => fanOutOptions.reporter.hostDone(result, [])
    )
    results = rollout.results.map((result, index) => withJump(result, hosts[index] as Destination))
  } finally {
    root.dispose()
  }

  writeOutputs(io, results, plan.files.length, settings)
  await io.writeSummary(
    summaryMarkdown(results, {
      targets: new Map(settings.hosts.map((host) => [host.label, host.target])),
      deleting: settings.delete,
      files: plan.files.length,
      totalBytes: plan.totalBytes,
      verify: settings.verify,
      batches: rollout.batches,
      ...(rollout.stopped === undefined ? {} : { stopped: rollout.stopped })
    })
  )

  const failed = results.filter((result) => result.status === 'failed')
  const skipped = results.filter((result) => result.status === 'skipped')
  const held = results.filter((result) => result.status === 'held')
  // Within max-failures a failed host is a warning, and the step succeeds.
  const tolerated =
    rollout.stopped === undefined && failed.length + held.length <= rollout.tolerated
  for (const result of failed)
    if (tolerated)
      io.warning(
        `${oneLine(result.error ?? 'failed')} (within max-failures: ${rollout.tolerated})`,
        `Deploy to ${result.host} failed`
      )
    else io.error(oneLine(result.error ?? 'failed'), `Deploy to ${result.host} failed`)
  const succeeded = results.length - failed.length - skipped.length - held.length
  io.info(
    `${succeeded} of ${results.length} host(s) ${settings.dryRun ? 'planned (dry run: nothing was written)' : settings.releases?.rollback === true ? 'rolled back' : settings.releases === undefined ? 'deployed' : 'switched'}, ${failed.length} failed,${held.length > 0 ? ` ${held.length} held (not switched),` : ''} ${skipped.length} not attempted${rollout.stopped === undefined ? '' : `; the rollout stopped ${rollout.stopped}`}`
  )
  const failing = failed.length > 0 || held.length > 0
  if (skipped.length === 0 && (!failing || tolerated)) return 'succeeded'
  io.markFailed()
  return 'failed'
}

async function planFiles(io: ActionIO, settings: Settings): Promise<Plan> {
  await checkWorkingDirectory(settings)
  const planning = Date.now()
  const plan = await buildPlan({
    patterns: settings.patterns,
    workingDirectory: settings.workingDirectory,
    stripComponents: settings.stripComponents,
    followSymbolicLinks: settings.followSymbolicLinks
  })
  io.info(`found ${plan.files.length} file(s) in ${formatDuration(Date.now() - planning)}`)
  return plan
}

/**
 * The whole run, from inputs to outputs. Its outcome is also the step's result: the io has
 * been told of a failure.
 */
export async function run(options: RunOptions = {}): Promise<RunOutcome> {
  const io = options.io ?? createActionIO()
  const env = options.env ?? process.env
  try {
    // Secrets are masked before anything else can print them.
    for (const name of SECRET_INPUTS) io.setSecret(io.getInput(name))
    const values = Object.fromEntries(
      INPUT_NAMES.map((name) => [name, io.getInput(name)])
    ) as Record<InputName, string>
    const environment: Omit<InputEnvironment, 'readFile' | 'path'> = {
      workspace: env.GITHUB_WORKSPACE ?? process.cwd(),
      variables: env,
      ...(options.agent === undefined ? {} : { agent: options.agent }),
      ...(options.keyFiles === undefined ? {} : { keyFiles: options.keyFiles })
    }
    const settings = parseInputs((name: InputName) => values[name], {
      ...environment,
      readFile: (path) => readFileSync(path, 'utf8')
    })
    for (const secret of settings.derivedSecrets) io.setSecret(secret)
    for (const warning of settings.warnings) io.warning(warning)
    for (const notice of settings.notices) io.notice(notice)

    const rollback = settings.releases?.rollback === true
    const plan = rollback ? { files: [], totalBytes: 0 } : await planFiles(io, settings)
    if (plan.files.length === 0 && !rollback) {
      noFiles(io, settings)
      return 'succeeded'
    }
    if (settings.hosts.length === 0) {
      writeOutputs(io, [], plan.files.length)
      return 'succeeded'
    }
    // Every thread names the release as this one did (a name from the time would differ).
    const release = settings.releases?.name
    const thread: ThreadRun = {
      values: release === undefined ? values : { ...values, 'release-name': release },
      environment
    }
    return await deploy(io, settings, plan, options, thread)
  } catch (error) {
    io.setFailed(
      error instanceof DeployError ? error.message : `unexpected error: ${errorMessage(error)}`
    )
    return error instanceof InputError ? 'invalid' : 'failed'
  }
}
