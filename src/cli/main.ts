// `ssh-fanout-deploy`: the action's run() at a terminal. Arguments → inputs with a person's
// defaults → run() → exit status 0 (every host deployed, or failed within max-failures), 1 (a
// host failed), 2 (bad usage or input).

import { existsSync, readFileSync } from 'node:fs'
import { homedir, userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run, type RunOutcome } from '../main.js'
import { readActionInputs } from './action-inputs.js'
import { parseCommandLine, UsageError } from './args.js'
import { applyTerminalDefaults } from './defaults.js'
import { liveDisplay, plainDisplay } from './display.js'
import { helpText } from './help.js'
import { createTerminalIO } from './terminal-io.js'

export interface CliStreams {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}

// The live display redraws this often.
const LIVE_INTERVAL_MS = 200

const EXIT_STATUS: Record<RunOutcome, number> = { succeeded: 0, failed: 1, invalid: 2 }

/**
 * The package's root: where package.json and action.yml are, above this file both as
 * dist/cli.js and as src/cli/main.ts.
 */
function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(directory, 'action.yml'))) {
    const parent = dirname(directory)
    if (parent === directory) throw new Error('action.yml not found above the command line')
    directory = parent
  }
  return directory
}

/** The login name the system has for this process's user, if any. */
function systemUser(): string | undefined {
  try {
    return userInfo().username
  } catch {
    return undefined
  }
}

/**
 * While the run goes on: lines that libraries write for a workflow's log (@actions/glob's
 * `::debug::`) are kept off stdout, shown only with --verbose. Returns the undo.
 */
function divertWorkflowCommands(verbose: ((line: string) => void) | undefined): () => void {
  const stdout = process.stdout
  const write = stdout.write.bind(stdout) as (chunk: unknown, ...rest: unknown[]) => boolean
  stdout.write = (chunk: unknown, ...rest: unknown[]): boolean => {
    if (typeof chunk === 'string' && chunk.startsWith('::debug::')) {
      verbose?.(`debug: ${chunk.slice('::debug::'.length).trimEnd()}`)
      return true
    }
    return write(chunk, ...rest)
  }
  return () => {
    stdout.write = write
  }
}

function packageVersion(root: string): string {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version?: string
  }
  return manifest.version ?? 'unknown'
}

/** Prints `results` as --json promises: the array, and nothing else, on stdout. */
function printResults(stdout: NodeJS.WriteStream, results: string | undefined): void {
  const parsed: unknown = JSON.parse(results ?? '[]')
  stdout.write(`${JSON.stringify(parsed, null, 2)}\n`)
}

export async function runCommandLine(
  argv: readonly string[],
  streams: CliStreams = { stdout: process.stdout, stderr: process.stderr },
  env: NodeJS.ProcessEnv = process.env,
  workerUrl?: URL
): Promise<number> {
  const root = packageRoot()
  const inputs = readActionInputs(join(root, 'action.yml'))
  try {
    const line = parseCommandLine(argv, inputs)
    if (line.kind === 'help') {
      streams.stdout.write(helpText(inputs, packageVersion(root)))
      return 0
    }
    if (line.kind === 'version') {
      streams.stdout.write(`${packageVersion(root)}\n`)
      return 0
    }
    const defaults = applyTerminalDefaults(line.inputs, line.knownHostsFiles, {
      home: env.HOME ?? homedir(),
      cwd: process.cwd(),
      user: () => env.USER ?? env.LOGNAME ?? systemUser(),
      agentSocket: env.SSH_AUTH_SOCK
    })
    const logStream = line.json ? streams.stderr : streams.stdout
    const live = logStream.isTTY
    const display = live ? liveDisplay(logStream) : plainDisplay(logStream)
    const io = createTerminalIO({
      inputs: defaults.inputs,
      display,
      verbose: line.verbose,
      ...(live ? { progressIntervalMs: LIVE_INTERVAL_MS } : {}),
      ...(defaults.knownHostsSource === undefined
        ? {}
        : { knownHostsSource: defaults.knownHostsSource })
    })
    for (const note of defaults.notes) io.info(note)
    const restore = divertWorkflowCommands(line.verbose ? (text) => io.info(text) : undefined)
    const outcome = await run({
      io,
      env: { ...env, GITHUB_WORKSPACE: process.cwd() },
      ...(defaults.agent === undefined ? {} : { agent: defaults.agent }),
      ...(defaults.keyFiles.length === 0 ? {} : { keyFiles: defaults.keyFiles }),
      ...(workerUrl === undefined ? {} : { workerUrl })
    })
    restore()
    display.finish()
    if (line.json && outcome !== 'invalid') printResults(streams.stdout, io.outputs.get('results'))
    return EXIT_STATUS[outcome]
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    streams.stderr.write(`ssh-fanout-deploy: ${error.message}\nTry 'ssh-fanout-deploy --help'.\n`)
    return 2
  }
}
