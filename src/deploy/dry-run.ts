// `dry-run`: each host connected to (host keys checked, authenticated) and looked at, nothing
// written: which files a deploy would send, which it would find unchanged (compared as the real
// run compares them: SHA-256 on the host, or read back where it cannot hash), and what `delete`
// would remove (max-delete applies as it would). The plan goes to the log, the summary and
// `results[].planned`.

import { posix } from 'node:path'
import { formatDuration } from '../config/duration.js'
import { DeployError } from '../errors.js'
import type { PlannedFile } from '../local/plan.js'
import { createRemoteHasher, type RemoteHasher } from '../remote/hasher-pool.js'
import type { SftpSession, SshConnection } from '../ssh/types.js'
import { isSameLink } from './links.js'
import { runPool } from './pool.js'
import { createHostProgress } from './progress.js'
import { planDeletion } from './sync.js'
import type { Attempt, HostJob } from './types.js'
import { skipUnchanged } from './unchanged.js'
import { alreadyThere } from './verify.js'
import { planRelease, type ReleasePlan } from './releases/dry-run.js'

// Names the log shows per list; all of them go to the debug log.
const NAMES_SHOWN = 20
// Files compared one by one at once, where the host cannot hash in batches.
const COMPARISONS_IN_FLIGHT = 8
/** Exec channels for hashing, as a real attempt has. */
const HASH_CHANNELS = 2

/** What a dry run found on the host, by relative path. */
interface HostPlan {
  readonly upload: readonly string[]
  readonly unchanged: readonly string[]
  readonly delete: readonly string[]
  /** With `releases`: the release made (or gone back to) and those removed. */
  readonly releases?: ReleasePlan
}

/** One dry-run attempt at a host: its plan in `job.progress.planned`. Writes nothing. */
export async function planAttempt(job: HostJob, signal: AbortSignal): Promise<void> {
  const started = Date.now()
  const connection = await job.connect(signal)
  job.log.info(`connected in ${formatDuration(Date.now() - started)} (dry run: nothing is written)`)
  const { rollout } = job.settings
  const steps = [
    rollout.scriptBefore === undefined ? undefined : 'script-before',
    rollout.scriptAfter === undefined ? undefined : 'script-after',
    rollout.healthCheck === undefined && rollout.healthCheckUrl === undefined
      ? undefined
      : 'the health checks'
  ].filter((step) => step !== undefined)
  if (steps.length > 0) job.log.info(`a dry run does not run ${steps.join(', ')}`)
  let hasher: RemoteHasher | undefined
  try {
    const sftp = await connection.sftp()
    if (job.settings.verify === 'sha256')
      hasher = createRemoteHasher(connection, HASH_CHANNELS, job.settings.idleTimeoutMs)
    // Each attempt looks afresh: what an earlier one found is not counted twice.
    const looking = { ...job, progress: createHostProgress() }
    const plan = await planHost(looking, signal, connection, sftp, hasher)
    job.progress.planned = {
      upload: plan.upload.length,
      unchanged: plan.unchanged.length,
      delete: plan.delete.length,
      ...(plan.releases === undefined
        ? {}
        : { release: plan.releases.release, prune: plan.releases.prune })
    }
    logPlan(job, plan)
  } finally {
    hasher?.close()
    await connection.close()
  }
}

async function planHost(
  job: HostJob,
  signal: AbortSignal,
  connection: SshConnection,
  sftp: SftpSession,
  hasher: RemoteHasher | undefined
): Promise<HostPlan> {
  const everything = job.plan.files.map((file) => file.relativePath)
  const { releases } = job.settings
  if ((await sftp.stat(job.host.target)) === undefined) {
    if (releases?.rollback === true)
      throw new DeployError('release', `nothing to roll back: ${job.host.target} is not there`)
    job.log.info(`target ${job.host.target} is not there yet: it would be made`)
    return {
      upload: everything,
      unchanged: [],
      delete: [],
      ...(releases === undefined
        ? {}
        : { releases: { base: undefined, release: releases.name, prune: [] } })
    }
  }
  const root = await sftp.realpath(job.host.target)
  job.log.info(`target ${job.host.target} is ${root} on the host`)
  // With releases: the current release, if any, is what the files are compared with.
  const released = releases === undefined ? undefined : await planRelease(job, releases, sftp, root)
  const base = released === undefined ? root : released.base
  if (base === undefined)
    return {
      upload: releases?.rollback === true ? [] : everything,
      unchanged: [],
      delete: [],
      ...(released === undefined ? {} : { releases: released })
    }
  const attempt: Attempt = {
    ...job,
    signal,
    connection,
    hasher,
    sftp,
    base,
    targetIsNew: false,
    unchangedFound: false,
    following: 0,
    ensureDir: () =>
      Promise.reject(new DeployError('remote-failure', 'a dry run makes no directory'))
  }
  const unchanged = await findUnchanged(attempt)
  const deleting = job.settings.delete ? (await planDeletion(attempt)).files : []
  return {
    upload: everything.filter((path) => !unchanged.has(path)),
    unchanged: everything.filter((path) => unchanged.has(path)),
    delete: deleting,
    ...(released === undefined ? {} : { releases: released })
  }
}

/** The files (and links) a deploy would find already there, compared as a deploy compares them. */
async function findUnchanged(attempt: Attempt): Promise<Set<string>> {
  const files = attempt.plan.files.filter((file) => file.linkTarget === undefined)
  const links = attempt.plan.files.filter((file) => file.linkTarget !== undefined)
  const unchanged = new Set<string>()
  const left = await skipUnchanged(attempt, files, undefined)
  const sent = new Set(left)
  for (const file of files) if (!sent.has(file)) unchanged.add(file.relativePath)
  // Where the host could not hash in batches, a deploy compares each file as it comes to it.
  const oneByOne: readonly PlannedFile[] = attempt.unchangedFound ? links : [...left, ...links]
  await runPool(oneByOne, COMPARISONS_IN_FLIGHT, async (file) => {
    const path = posix.join(attempt.base, file.relativePath)
    const same =
      file.linkTarget === undefined
        ? await alreadyThere(attempt, file, path)
        : await isSameLink(attempt, file, await attempt.sftp.lstat(path))
    if (same) unchanged.add(file.relativePath)
    return undefined
  })
  return unchanged
}

function logPlan(job: HostJob, plan: HostPlan): void {
  const { log } = job
  log.info(
    `plan: ${plan.upload.length} file(s) to send, ${plan.unchanged.length} unchanged${job.settings.delete ? `, ${plan.delete.length} to delete` : ''}`
  )
  for (const [what, paths] of [
    ['to send', plan.upload],
    ['to delete', plan.delete]
  ] as const) {
    if (paths.length === 0) continue
    const more = paths.length > NAMES_SHOWN ? `, and ${paths.length - NAMES_SHOWN} more` : ''
    log.info(`${what}: ${paths.slice(0, NAMES_SHOWN).join(', ')}${more}`)
    for (const path of paths) log.debug(`${what}: ${path}`)
  }
  for (const path of plan.unchanged) log.debug(`unchanged: ${path}`)
}
