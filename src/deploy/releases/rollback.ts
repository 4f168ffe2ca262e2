// `rollback: true`: one attempt at a host sends nothing. Under the deploy lock it finds the
// release `current` points to and the one made before it, which the switch then goes back to.

import { formatDuration } from '../../config/duration.js'
import { DeployError } from '../../errors.js'
import { takeLock } from '../lock.js'
import { directoryMaker } from '../target.js'
import type { Attempt, HostJob } from '../types.js'
import { releaseBefore } from './history.js'
import { readHostReleases } from './layout.js'

export async function rollbackAttempt(job: HostJob, signal: AbortSignal): Promise<void> {
  const started = Date.now()
  const connection = await job.connect(signal)
  job.log.info(`connected in ${formatDuration(Date.now() - started)}`)
  let kept = false
  try {
    job.progress.phase = 'checking'
    const sftp = await connection.sftp()
    const { target } = job.host
    if ((await sftp.stat(target)) === undefined)
      throw new DeployError('release', `nothing to roll back: ${target} is not on the host`)
    const base = await sftp.realpath(target)
    const attempt: Attempt = {
      ...job,
      signal,
      connection,
      hasher: undefined,
      sftp,
      ensureDir: directoryMaker(sftp),
      base,
      targetIsNew: false,
      unchangedFound: true,
      following: 0
    }
    const taken = await takeLock(attempt)
    if (taken.readOnly)
      throw new DeployError('permission', `cannot roll back in ${base}: it is not writable`)
    const host = await readHostReleases(sftp, base)
    const { current } = host
    if (current === undefined)
      throw new DeployError('release', `nothing to roll back: ${base}/current is not there`)
    const before = releaseBefore(host.ordered, current)
    if (before === undefined)
      throw new DeployError(
        'release',
        `no release before ${current} to roll back to (the host has ${host.ordered.join(', ')})`
      )
    job.progress.release = {
      root: base,
      name: before,
      previous: current,
      made: false,
      switched: false,
      host,
      rollback: true,
      kept: { connection, sftp }
    }
    kept = true
    job.progress.phase = 'ready'
    job.log.info(`rollback: current is ${current}; going back to ${before}`)
  } finally {
    if (!kept) await connection.close()
  }
}
