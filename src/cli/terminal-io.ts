// The action's IO for a terminal: the same messages as the action, secrets masked, the log on
// stdout (stderr with --json), outputs kept for --json, progress through a Display.

import { maskedParts, type ActionIO, type GroupLine } from '../action/io.js'
import type { InputName } from '../action/inputs.js'
import type { Display } from './display.js'

export interface TerminalIOOptions {
  readonly inputs: ReadonlyMap<InputName, string>
  readonly display: Display
  /** Debug lines too. */
  readonly verbose: boolean
  /** How often progress is shown, where not the action's (the live display's redraws). */
  readonly progressIntervalMs?: number
  /** Where the known-hosts input came from, for its errors (a file, ~/.ssh/known_hosts). */
  readonly knownHostsSource?: string
}

export interface TerminalIO extends ActionIO {
  /** The outputs the run set, by name. */
  readonly outputs: ReadonlyMap<string, string>
}

const MASK = '***'

/** An input's error, as the action words it, with the option that sets the input. */
export function withOption(message: string, knownHostsSource: string | undefined): string {
  return message.replace(/^Input '([a-z-]+)': /, (whole, name: string) =>
    name === 'known-hosts' && knownHostsSource !== undefined
      ? `Input 'known-hosts' (from ${knownHostsSource}): `
      : `Input '${name}' (--${name}): `
  )
}

export function createTerminalIO(options: TerminalIOOptions): TerminalIO {
  const secrets: string[] = []
  const outputs = new Map<string, string>()
  const mask = (text: string): string =>
    secrets.reduce((masked, secret) => masked.split(secret).join(MASK), text)
  const log = (line: string): void => {
    for (const part of mask(line).split('\n')) options.display.log(part)
  }
  const annotate = (kind: string, message: string, title: string | undefined): void =>
    log(`${kind}: ${title === undefined ? '' : `${title}: `}${message}`)

  return {
    outputs,
    getInput: (name) => (options.inputs.get(name as InputName) ?? '').trim(),
    setSecret: (value) => {
      secrets.push(...maskedParts(value))
      // The longest first, so that a secret inside another is not left half-masked.
      secrets.sort((a, b) => b.length - a.length)
    },
    setOutput: (name, value) => {
      outputs.set(name, value)
    },
    info: log,
    notice: (message) => annotate('notice', message, undefined),
    warning: (message, title) => annotate('warning', message, title),
    error: (message, title) => annotate('error', message, title),
    group: (title, lines: readonly GroupLine[]) => {
      log(title)
      for (const line of lines) if (line.debug !== true || options.verbose) log(`  ${line.text}`)
    },
    writeSummary: () => Promise.resolve(),
    setFailed: (message) =>
      annotate('error', withOption(message, options.knownHostsSource), undefined),
    markFailed: () => undefined,
    progress: (hosts) => options.display.update(hosts),
    ...(options.progressIntervalMs === undefined
      ? {}
      : { progressIntervalMs: options.progressIntervalMs }),
    start: (labels) => options.display.start(labels),
    hostDone: (result) =>
      options.display.done(
        result.error === undefined ? result : { ...result, error: mask(result.error) }
      )
  }
}
