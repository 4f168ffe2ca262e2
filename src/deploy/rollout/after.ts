// What a host runs once it is published (in place) or switched (releases): `script-after`, then
// the health checks; and `script-before`, before anything is sent. The variables the scripts
// get: `script-env`, DEPLOY_TARGET and, with releases, DEPLOY_RELEASE, DEPLOY_RELEASE_DIR and
// DEPLOY_PREVIOUS_RELEASE_DIR.

import type { SshConnection } from '../../ssh/types.js'
import { overLink } from '../releases/switch.js'
import { releaseDir } from '../releases/layout.js'
import type { HostJob } from '../types.js'
import { checkHealth } from './health.js'
import { runScript } from './scripts.js'

/** Which release the variables describe, where it is not the host's own (a switch back). */
export interface ReleaseView {
  readonly name: string
  readonly previous: string | undefined
}

/** The variables exported to the host's scripts and health check command. */
export function deployEnv(job: HostJob, root?: string, view?: ReleaseView): Map<string, string> {
  const env = new Map(job.settings.rollout.scriptEnv)
  const release = job.progress.release
  const base = release?.root ?? root ?? job.progress.targetPath ?? job.host.target
  env.set('DEPLOY_TARGET', base)
  const settings = job.settings.releases
  if (settings === undefined) return env
  const name = view?.name ?? release?.name ?? settings.name
  const previous = view === undefined ? release?.previous : view.previous
  env.set('DEPLOY_RELEASE', name)
  env.set('DEPLOY_RELEASE_DIR', releaseDir(base, name))
  env.set('DEPLOY_PREVIOUS_RELEASE_DIR', previous === undefined ? '' : releaseDir(base, previous))
  return env
}

// A new connection to stop a script after a cancel gets this long.
const RECONNECT_MS = 5000

/** Opens a new connection to the host, whatever the run's signal says (see execScript). */
function reconnect(job: HostJob): () => Promise<SshConnection> {
  return () => job.connect(AbortSignal.timeout(RECONNECT_MS))
}

/** `script-before`, once per host (a retry does not run it again). */
export async function runScriptBefore(
  job: HostJob,
  connection: SshConnection,
  root: string,
  signal: AbortSignal
): Promise<void> {
  const { rollout } = job.settings
  if (rollout.scriptBefore === undefined || job.progress.scriptBeforeRan) return
  await runScript(
    connection,
    job.log,
    'script-before',
    rollout.scriptBefore,
    deployEnv(job, root),
    rollout.scriptTimeoutMs,
    signal,
    reconnect(job)
  )
  job.progress.scriptBeforeRan = true
}

/** Whether a host has anything to run once published. */
export function hasAfterSteps(job: HostJob): boolean {
  const { rollout } = job.settings
  return (
    rollout.scriptAfter !== undefined ||
    rollout.healthCheck !== undefined ||
    rollout.healthCheckUrl !== undefined
  )
}

async function afterSteps(
  job: HostJob,
  connection: SshConnection,
  signal: AbortSignal,
  view?: ReleaseView
): Promise<void> {
  const { rollout } = job.settings
  const env = deployEnv(job, undefined, view)
  if (rollout.scriptAfter !== undefined)
    await runScript(
      connection,
      job.log,
      'script-after',
      rollout.scriptAfter,
      env,
      rollout.scriptTimeoutMs,
      signal,
      reconnect(job)
    )
  if (view === undefined)
    await checkHealth(connection, rollout, job.host.host, env, job.log, signal, reconnect(job))
}

/** In place: `script-after` and the health checks over a new connection. Throws where one fails. */
export async function afterPublished(job: HostJob, signal: AbortSignal): Promise<void> {
  if (!hasAfterSteps(job)) return
  job.progress.phase = 'checking'
  const connection = await job.connect(signal)
  try {
    await afterSteps(job, connection, signal)
  } finally {
    await connection.close()
  }
}

/**
 * With releases: `script-after` and the health checks over the host's release connection. With
 * `view` (a switch back), `script-after` alone, for the release switched back to.
 */
export async function afterSwitched(
  job: HostJob,
  signal: AbortSignal,
  view?: ReleaseView
): Promise<void> {
  if (!hasAfterSteps(job)) return
  job.progress.phase = 'checking'
  // Not run again over a new connection where the first one fails: a script is not repeated.
  await overLink(job, signal, ({ connection }) => afterSteps(job, connection, signal, view), false)
}
