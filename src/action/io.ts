// The one module that talks to @actions/core: inputs, masking, outputs, logs and the summary.

import * as core from '@actions/core'
import type { HostResult } from '../deploy/result.js'
import { progressText, type HostSnapshot } from '../deploy/status.js'

export interface GroupLine {
  readonly text: string
  readonly debug?: boolean
}

export interface ActionIO {
  getInput(name: string): string
  /** Masks a secret in every later log line (each line of a multi-line value too). */
  setSecret(value: string): void
  setOutput(name: string, value: string): void
  info(line: string): void
  /** A `::notice` annotation: worth a reader's eye, not a problem. */
  notice(message: string): void
  warning(message: string, title?: string): void
  error(message: string, title?: string): void
  /** A collapsible group of lines; `debug` ones are shown only with debug logging on. */
  group(title: string, lines: readonly GroupLine[]): void
  writeSummary(markdown: string): Promise<void>
  /** Fails the step with one `::error` annotation. */
  setFailed(message: string): void
  /** Fails the step without another annotation (those already printed say why). */
  markFailed(): void
  /** The running hosts, every `progressIntervalMs` (the action prints a line for each). */
  progress(hosts: readonly HostSnapshot[]): void
  /** Where set, how often progress() is called (else SFD_PROGRESS_INTERVAL_MS, or 5 s). */
  readonly progressIntervalMs?: number
  /** The hosts about to be deployed, labelled, before the first one connects. */
  start?(hosts: readonly string[]): void
  /** A host has finished; its group has been printed. */
  hostDone?(result: HostResult): void
}

// PEM armour lines are public boilerplate; masking them would only hide our own messages.
const ARMOUR = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/

/**
 * What masking a secret masks: the value, and each line of a multi-line one (a key), but
 * lines too short to be secret and PEM armour.
 */
export function maskedParts(value: string): string[] {
  if (value === '') return []
  if (!value.includes('\n')) return [value]
  const lines = value.split('\n').map((part) => part.trim())
  return [value, ...lines.filter((line) => line.length >= 6 && !ARMOUR.test(line))]
}

export function createActionIO(): ActionIO {
  return {
    getInput: (name) => core.getInput(name),
    setSecret: (value) => {
      for (const part of maskedParts(value)) core.setSecret(part)
    },
    setOutput: (name, value) => core.setOutput(name, value),
    info: (line) => core.info(line),
    notice: (message) => core.notice(message),
    warning: (message, title) => core.warning(message, title === undefined ? {} : { title }),
    error: (message, title) => core.error(message, title === undefined ? {} : { title }),
    group: (title, lines) => {
      core.startGroup(title)
      for (const line of lines) {
        if (line.debug === true) core.debug(line.text)
        else core.info(line.text)
      }
      core.endGroup()
    },
    writeSummary: async (markdown) => {
      if (process.env.GITHUB_STEP_SUMMARY === undefined || process.env.GITHUB_STEP_SUMMARY === '')
        return
      await core.summary.addRaw(markdown, true).write()
    },
    setFailed: (message) => core.setFailed(message),
    markFailed: () => {
      process.exitCode = 1
    },
    progress: (hosts) => {
      for (const host of hosts) core.info(`progress: ${host.label}: ${progressText(host)}`)
    }
  }
}
