// The health checks after a host is published: `health-check`, a command on the host (exit 0
// passes), and `health-check-url`, an HTTP(S) GET from the runner (2xx passes), tried up to
// `health-check-attempts` times in all, `health-check-interval` apart. Either or both.

import { formatDuration } from '../../config/duration.js'
import type { RolloutSettings } from '../../config/rollout.js'
import { DeployError, errorMessage, oneLine } from '../../errors.js'
import type { SshConnection } from '../../ssh/types.js'
import type { HostLog } from '../types.js'
import { execScript, failureLine, scriptCommand } from './scripts.js'
import { waitUnlessStopped } from '../wait.js'

// One try of either check takes at most this long.
const TRY_MS = 10_000

/** The URL for a host: `{host}` is its address (an IPv6 address in brackets). */
export function urlFor(template: string, address: string): string {
  return template.replaceAll('{host}', address.includes(':') ? `[${address}]` : address)
}

/** One GET: undefined where it answered 2xx, else what it answered (or why it did not). */
async function tryUrl(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TRY_MS), redirect: 'follow' })
    await response.body?.cancel().catch(() => undefined)
    return response.ok ? undefined : `HTTP ${response.status} ${response.statusText}`.trim()
  } catch (error) {
    const cause =
      error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ''
    return `${oneLine(errorMessage(error))}${cause}`
  }
}

/** One run of the command: undefined where it exited 0, else what it said. */
async function tryCommand(
  connection: SshConnection,
  command: string,
  env: ReadonlyMap<string, string>,
  signal: AbortSignal,
  reconnect: () => Promise<SshConnection>
): Promise<string | undefined> {
  const result = await execScript(
    connection,
    scriptCommand(command, env),
    TRY_MS,
    signal,
    reconnect
  )
  return result.code === 0 && result.timedOut !== true ? undefined : failureLine(result, TRY_MS)
}

/**
 * The host's health checks, until both pass or the attempts are used up: throws a
 * `health-check` error with the last answer. No check given: passes at once.
 */
export async function checkHealth(
  connection: SshConnection,
  rollout: RolloutSettings,
  address: string,
  env: ReadonlyMap<string, string>,
  log: HostLog,
  signal: AbortSignal,
  reconnect: () => Promise<SshConnection>
): Promise<void> {
  const { healthCheck, healthCheckUrl } = rollout
  if (healthCheck === undefined && healthCheckUrl === undefined) return
  const url = healthCheckUrl === undefined ? undefined : urlFor(healthCheckUrl, address)
  const started = Date.now()
  let last = ''
  for (let attempt = 1; attempt <= rollout.healthCheckAttempts; attempt += 1) {
    if (attempt > 1) await waitUnlessStopped(rollout.healthCheckIntervalMs, signal)
    if (signal.aborted)
      throw new DeployError('aborted', `${errorMessage(signal.reason)} during the health checks`)
    const failed =
      (healthCheck === undefined
        ? undefined
        : await tryCommand(connection, healthCheck, env, signal, reconnect)) ??
      (url === undefined ? undefined : await tryUrl(url).then((why) => why && `${url}: ${why}`))
    if (failed === undefined) {
      log.info(
        `health check passed on attempt ${attempt} (${formatDuration(Date.now() - started)})`
      )
      return
    }
    last = failed
    log.info(`health check attempt ${attempt} of ${rollout.healthCheckAttempts} failed: ${failed}`)
  }
  throw new DeployError(
    'health-check',
    `health check failed ${rollout.healthCheckAttempts} time(s) over ${formatDuration(Date.now() - started)}: ${last}`
  )
}
