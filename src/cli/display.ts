// How the command line shows a run: on a terminal, one line per host and a total, redrawn in
// place under the log (log-update); elsewhere, the action's plain progress lines.

import { createLogUpdate } from 'log-update'
import { formatDuration } from '../config/duration.js'
import type { HostResult } from '../deploy/result.js'
import { formatRate, progressText, type HostSnapshot } from '../deploy/status.js'
import { formatBytes } from '../format.js'

export interface Display {
  /** The hosts about to be deployed, in order. */
  start(labels: readonly string[]): void
  /** The running hosts, every progress interval. */
  update(running: readonly HostSnapshot[]): void
  /** A host has finished. */
  done(result: HostResult): void
  /** A line of the log, written above the live lines. */
  log(line: string): void
  /** The run is over: the last state stays on the screen. */
  finish(): void
}

/** A non-terminal: the log, and the action's `progress:` lines. */
export function plainDisplay(stream: { write(text: string): boolean }): Display {
  return {
    start: () => undefined,
    update: (running) => {
      for (const host of running) stream.write(`progress: ${host.label}: ${progressText(host)}\n`)
    },
    done: () => undefined,
    log: (line) => stream.write(`${line}\n`),
    finish: () => undefined
  }
}

export type HostState =
  | { readonly kind: 'waiting' }
  | { readonly kind: 'running'; readonly snapshot: HostSnapshot }
  | { readonly kind: 'done'; readonly result: HostResult }

/** `succeeded, 3 uploaded, 1 unchanged, 1.00 MiB in 2.0s`, or the error of a failed host. */
export function finalText(result: HostResult): string {
  const counts = `${result.uploaded} uploaded, ${result.skipped} unchanged${result.deleted > 0 ? `, ${result.deleted} deleted` : ''}`
  const tail = `${counts}, ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}`
  if (result.status === 'failed') return `failed: ${result.error ?? 'unknown error'} (${tail})`
  if (result.status === 'skipped')
    return `not attempted${result.error === undefined ? '' : `: ${result.error}`}`
  return `${result.status}, ${tail}`
}

function hostText(state: HostState): string {
  if (state.kind === 'waiting') return 'waiting'
  if (state.kind === 'running') return progressText(state.snapshot)
  return finalText(state.result)
}

/** The total line: hosts done, files and bytes so far, the combined rate. */
export function totalText(states: readonly HostState[]): string {
  let done = 0
  let failed = 0
  let files = 0
  let filesDone = 0
  let bytes = 0
  let rate: number | undefined
  let etaMs: number | undefined
  for (const state of states) {
    if (state.kind === 'done') {
      done++
      if (state.result.status === 'failed') failed++
      files += state.result.files
      filesDone += state.result.uploaded + state.result.skipped
      bytes += state.result.bytes
    } else if (state.kind === 'running') {
      const host = state.snapshot
      files += host.files
      filesDone += host.filesDone
      bytes += host.bytes
      if (host.rate !== undefined) rate = (rate ?? 0) + host.rate
      if (host.etaMs !== undefined) etaMs = Math.max(etaMs ?? 0, host.etaMs)
    }
  }
  const parts = [
    `${done}/${states.length} hosts done${failed > 0 ? ` (${failed} failed)` : ''}`,
    `${filesDone}/${files} files`,
    `${formatBytes(bytes)} sent`
  ]
  if (rate !== undefined) parts.push(formatRate(rate))
  if (etaMs !== undefined) parts.push(`ETA ${formatDuration(etaMs)}`)
  return parts.join(', ')
}

function clip(line: string, columns: number): string {
  return line.length <= columns ? line : `${line.slice(0, Math.max(0, columns - 1))}…`
}

/** The frame: a line per host (as many as fit), then the total. */
export function renderFrame(
  labels: readonly string[],
  states: ReadonlyMap<string, HostState>,
  size: { readonly columns: number; readonly rows: number },
  everyHost = false
): string {
  const width = Math.max(...labels.map((label) => label.length), 5)
  const all = labels.map((label) => ({ label, state: states.get(label) ?? { kind: 'waiting' } }))
  const room = everyHost ? all.length : Math.max(1, size.rows - 2)
  let shown = all
  let hidden = ''
  if (all.length > room) {
    // Running and failed hosts first; the rest are counted.
    const rank = (state: HostState): number =>
      state.kind === 'running'
        ? 0
        : state.kind === 'done' && state.result.status === 'failed'
          ? 1
          : 2
    shown = [...all].sort((a, b) => rank(a.state) - rank(b.state)).slice(0, room - 1)
    hidden = `${'…'.padEnd(width)}  ${all.length - shown.length} more hosts`
  }
  const lines = shown.map(({ label, state }) => `${label.padEnd(width)}  ${hostText(state)}`)
  if (hidden !== '') lines.push(hidden)
  lines.push(`${'total'.padEnd(width)}  ${totalText(all.map((host) => host.state))}`)
  // The final frame stays in the scrollback: whole lines, wrapped by the terminal.
  return everyHost ? lines.join('\n') : lines.map((line) => clip(line, size.columns)).join('\n')
}

/** A terminal: the log scrolls above a block of live lines, redrawn in place. */
export function liveDisplay(stream: NodeJS.WriteStream): Display {
  const update = createLogUpdate(stream)
  let labels: readonly string[] = []
  let live = false
  const states = new Map<string, HostState>()
  // A pseudo-terminal nobody sized reports 0 by 0.
  const size = (): { columns: number; rows: number } => ({
    columns: stream.columns > 0 ? stream.columns : 80,
    rows: stream.rows > 0 ? stream.rows : 24
  })
  const draw = (): void => {
    if (live) update(renderFrame(labels, states, size()))
  }
  // Every host's last state stays in the scrollback, above what the run prints after.
  const finish = (): void => {
    if (!live) return
    live = false
    update.clear()
    update.done()
    stream.write(`${renderFrame(labels, states, size(), true)}\n`)
  }
  return {
    start: (hosts) => {
      labels = hosts
      live = hosts.length > 0
      draw()
    },
    update: (running) => {
      for (const snapshot of running) states.set(snapshot.label, { kind: 'running', snapshot })
      draw()
    },
    done: (result) => {
      states.set(result.host, { kind: 'done', result })
      if (labels.every((label) => states.get(label)?.kind === 'done')) finish()
      else draw()
    },
    log: (line) => {
      if (!live) {
        stream.write(`${line}\n`)
        return
      }
      update.persist(line)
      draw()
    },
    finish
  }
}
