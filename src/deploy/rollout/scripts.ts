// `script-before` and `script-after`: run on a host through an exec channel by its login shell
// (no pty), with `set -e`, the exported variables first (`script-env` and DEPLOY_*), each value
// quoted by the one quoting function; stopped at `script-timeout`. Their output goes to the
// host's log (masked as every log line is); a non-zero exit fails the host.

import { formatDuration } from '../../config/duration.js'
import { DeployError, errorMessage } from '../../errors.js'
import { shellQuote } from '../../remote/shell-quote.js'
import type { ExecResult, SshConnection } from '../../ssh/types.js'
import type { HostLog } from '../types.js'

// Output lines of a script put in the log after it, at most (the last ones).
const LINES_LOGGED = 200

// The script's first line of stderr: its process group, to stop all of it at the timeout.
const PID_LINE = 'sfd-script-pid '

/**
 * The command the login shell runs: its process id said first (sshd makes it a session leader,
 * so that is the group of everything the script starts), the exports, `set -e`, then the script
 * as given.
 */
export function scriptCommand(script: string, env: ReadonlyMap<string, string>): string {
  const exports = [...env].map(([name, value]) => `${name}=${shellQuote(value)}`)
  return [
    `echo "${PID_LINE}$$" >&2`,
    ...(exports.length > 0 ? [`export ${exports.join(' ')}`] : []),
    'set -e',
    script
  ].join('\n')
}

/** Kills a script's process group (sshd made its shell a session leader: the group is its pid). */
function killCommand(pid: string): string {
  return `kill -s KILL -- -${pid}`
}

/** Kills the process group over a new connection, closed at once; quietly where it cannot. */
async function killOver(reconnect: () => Promise<SshConnection>, pid: string): Promise<void> {
  const connection = await reconnect().catch(() => undefined)
  if (connection === undefined) return
  await connection.exec(killCommand(pid)).catch(() => undefined)
  await connection.close()
}

/**
 * Runs a command built by scriptCommand, keeping the end of its output; at the timeout, or
 * when the run is stopped, its whole process group is killed.
 */
export async function execScript(
  connection: SshConnection,
  command: string,
  timeoutMs: number,
  signal: AbortSignal,
  /** A new connection to the host: a cancelled run's own is closing. */
  reconnect: () => Promise<SshConnection>
): Promise<ExecResult> {
  // The pid, as soon as it is said: a cancel may close the connection before any result.
  let said = ''
  const onStderr = (chunk: Buffer): void => {
    if (said.length < 256) said += chunk.toString('utf8')
  }
  const pidOf = (): string | undefined => new RegExp(`^${PID_LINE}(\\d+)$`, 'm').exec(said)?.[1]
  let result: ExecResult
  try {
    result = await connection.exec(command, { timeoutMs, signal, keep: 'tail', onStderr })
  } catch (error) {
    const pid = pidOf()
    if (signal.aborted && pid !== undefined) await killOver(reconnect, pid)
    throw error
  }
  const pid = pidOf()
  const stderr = result.stderr
    .split('\n')
    .filter((line) => !line.startsWith(PID_LINE))
    .join('\n')
  if (pid !== undefined && result.timedOut === true)
    await connection.exec(killCommand(pid)).catch(() => undefined)
  if (pid !== undefined && result.aborted === true) await killOver(reconnect, pid)
  if (result.aborted === true)
    throw new DeployError(
      'aborted',
      `${errorMessage(signal.reason)}: the command on the host was stopped`
    )
  return { ...result, stderr }
}

function outputLines(result: ExecResult): string[] {
  return [...result.stdout.split('\n'), ...result.stderr.split('\n')]
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
}

/** What a failed command says of itself: its exit, and its first line of output. */
export function failureLine(result: ExecResult, timeoutMs: number): string {
  const first =
    result.stderr.split('\n').find((line) => line.trim() !== '') ??
    result.stdout.split('\n').find((line) => line.trim() !== '')
  const how =
    result.timedOut === true
      ? `was stopped after ${formatDuration(timeoutMs)} (script-timeout)`
      : result.code === null
        ? `ended by signal ${result.signal ?? '?'}`
        : `exited with ${result.code}`
  return `${how}${first === undefined ? '' : `: ${first.trim()}`}`
}

/** Runs a script on the host; its output in the log. Throws a `script` error where it fails. */
export async function runScript(
  connection: SshConnection,
  log: HostLog,
  name: 'script-before' | 'script-after',
  script: string,
  env: ReadonlyMap<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
  reconnect: () => Promise<SshConnection>
): Promise<void> {
  const started = Date.now()
  const result = await execScript(
    connection,
    scriptCommand(script, env),
    timeoutMs,
    signal,
    reconnect
  )
  const lines = outputLines(result)
  if (lines.length > LINES_LOGGED)
    log.info(`${name}: … ${lines.length - LINES_LOGGED} line(s) before these`)
  for (const line of lines.slice(-LINES_LOGGED)) log.info(`${name}: ${line}`)
  if (result.code === 0 && result.timedOut !== true) {
    log.info(`${name} passed in ${formatDuration(Date.now() - started)}`)
    return
  }
  throw new DeployError('script', `${name} ${failureLine(result, timeoutMs)}`)
}
