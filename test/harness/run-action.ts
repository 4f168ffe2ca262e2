// Runs the bundled action as the runner does: `node dist/index.js` with INPUT_* variables (names
// upper-cased, hyphens kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files.

import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Fleet, TestHost } from './sshd.js'
import type { TcpProxy } from './tcp-proxy.js'
import { tempDir } from './temp.js'

export const DIST = resolve(import.meta.dirname, '../../dist/index.js')
// Preloaded into the action's process by measurePeakRss: writes its peak RSS on exit.
const PEAK_RSS_PRELOAD = resolve(import.meta.dirname, 'peak-rss.js')

export interface ActionRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly outputs: Record<string, string>
  readonly summary: string
  readonly durationMs: number
  /** The action process's peak resident set size in KiB, when run with measurePeakRss. */
  readonly peakRssKiB?: number
}

export interface HostResultOutput {
  host: string
  status: string
  files: number
  uploaded: number
  skipped: number
  bytes: number
  attempts: number
  durationMs: number
  error?: string
  errorClass?: string
  resumedBytes: number
  /** The jump chain, `user@host:port` per hop in order; absent for a host reached directly. */
  jump?: string[]
  batch?: number
  startedAt?: string
  finishedAt?: string
  rolledBack?: boolean
  /** With releases. */
  release?: string | null
  previousRelease?: string | null
  switched?: boolean
}

/** Parses the GITHUB_OUTPUT file: `name<<DELIMITER` … `DELIMITER` blocks. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i += 1) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '')
    if (match?.[1] === undefined || match[2] === undefined) continue
    const value: string[] = []
    for (i += 1; i < lines.length && lines[i] !== match[2]; i += 1) value.push(lines[i] ?? '')
    outputs[match[1]] = value.join('\n')
  }
  return outputs
}

/** Inputs that deploy to some of a fleet's hosts with its key and known_hosts. */
export function fleetInputs(
  fleet: Fleet,
  hosts: readonly TestHost[],
  extra: Record<string, string> = {}
): Record<string, string> {
  return {
    host: hosts.map((h) => h.entry).join('\n'),
    username: fleet.user,
    key: fleet.keys.ed25519,
    'known-hosts': fleet.knownHosts,
    source: '**',
    target: 'app',
    'retry-delay': '100ms',
    ...extra
  }
}

/** Inputs that deploy to `backend` through `proxy` (its address, the backend's host keys). */
export function proxiedInputs(
  fleet: Fleet,
  proxy: TcpProxy,
  backend: TestHost,
  extra: Record<string, string> = {}
): Record<string, string> {
  return {
    ...fleetInputs(fleet, [], extra),
    host: `${fleet.user}@${proxy.entry}`,
    'known-hosts': proxy.knownHostsFrom(backend.knownHosts)
  }
}

export interface RunOptions {
  /** Workspace (and working directory) of the run. */
  readonly cwd: string
  readonly env?: Record<string, string>
  readonly timeoutMs?: number
  /** Called with the child once started (to signal it, say). */
  readonly onSpawn?: (child: import('node:child_process').ChildProcess) => void
  /** Measure the action process's peak RSS (peakRssKiB); absent when it dies by a signal. */
  readonly measurePeakRss?: boolean
}

export async function runAction(
  inputs: Record<string, string>,
  options: RunOptions
): Promise<ActionRun> {
  const runDir = tempDir('run')
  const outputPath = join(runDir, 'output')
  const summaryPath = join(runDir, 'summary')
  writeFileSync(outputPath, '')
  writeFileSync(summaryPath, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? runDir,
    GITHUB_OUTPUT: outputPath,
    GITHUB_STEP_SUMMARY: summaryPath,
    GITHUB_WORKSPACE: options.cwd,
    RUNNER_TEMP: runDir,
    ...options.env
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  const peakRssPath = join(runDir, 'peak-rss')
  const preload: string[] = []
  if (options.measurePeakRss === true) {
    env.SFD_TEST_PEAK_RSS_FILE = peakRssPath
    preload.push('--import', pathToFileURL(PEAK_RSS_PRELOAD).href)
  }

  const started = Date.now()
  const child = spawn(process.execPath, [...preload, DIST], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  options.onSpawn?.(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()))
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()))
  const timeoutMs = options.timeoutMs ?? 120_000
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on('close', (exitCode, exitSignal) => done([exitCode, exitSignal]))
  )
  clearTimeout(killer)
  const peakRss = existsSync(peakRssPath) ? Number(readFileSync(peakRssPath, 'utf8')) : undefined
  return {
    code,
    signal,
    stdout,
    stderr,
    outputs: parseOutputFile(readFileSync(outputPath, 'utf8')),
    summary: readFileSync(summaryPath, 'utf8'),
    durationMs: Date.now() - started,
    ...(peakRss === undefined ? {} : { peakRssKiB: peakRss })
  }
}

/** The run's log without its key-masking and debug lines: for an assertion's message. */
export function logOf(run: ActionRun): string {
  return run.stdout
    .split('\n')
    .filter((line) => !/^::(add-mask|debug)::/.test(line))
    .join('\n')
}

/** The lines of one host's group in the run's log (`::group::LABEL: …` to `::endgroup::`). */
export function hostLogLines(run: ActionRun, label: string): string[] {
  const lines = logOf(run).split('\n')
  const start = lines.findIndex((line) => line.startsWith(`::group::${label}: `))
  if (start < 0) return []
  const end = lines.indexOf('::endgroup::', start)
  return lines.slice(start + 1, end < 0 ? undefined : end)
}

/** The run's `::error` annotations (the step's failure and each host's), one per line. */
export function errorAnnotations(run: ActionRun): string[] {
  return run.stdout.split('\n').filter((line) => line.startsWith('::error'))
}

export function results(run: ActionRun): HostResultOutput[] {
  return JSON.parse(run.outputs.results ?? '[]') as HostResultOutput[]
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Every file below `dir` (hidden ones too) as relative path → sha256. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      const path = join(current, name)
      const info = statSync(path)
      if (info.isDirectory()) walk(path)
      else out[relative(dir, path)] = sha256(readFileSync(path))
    }
  }
  walk(dir)
  return out
}
