// A file on the host checked against the runner's copy, as the `verify` input says: its size,
// or its SHA-256 computed on the host (the hashing shells, or a follower that hashed it as it
// arrived) or, where the host cannot hash, read back over SFTP and hashed here.

import { DeployError } from '../errors.js'
import { changedOnRunner, checkIdentity } from '../local/changes.js'
import type { LocalDigest } from '../local/digests.js'
import type { PlannedFile } from '../local/plan.js'
import type { RemoteFollower } from '../remote/follower.js'
import { readBackHash } from '../remote/read-back.js'
import type { RemoteDigest } from '../remote/shell-protocol.js'
import type { HostProgress } from './progress.js'
import type { Attempt } from './types.js'

/** Where the host's digest of a file comes from first: a follower, or a digest already in. */
export type HostDigestSource = RemoteFollower | { readonly sha256: string }

/** SHA-256 of a remote file: by remote command where the host can, else read back over SFTP. */
export async function remoteDigest(
  attempt: Attempt,
  path: string,
  size: number,
  source?: HostDigestSource
): Promise<string> {
  const { hasher, progress, log, sftp } = attempt
  if (source !== undefined && 'sha256' in source) return source.sha256
  // Without a follower the request goes to the hashing shells in this same turn, so thousands
  // asked for together fill the first batch before the rest have been asked for.
  let answer: RemoteDigest = source === undefined ? 'unavailable' : await source.finish(size)
  if (answer === 'unavailable' && hasher !== undefined) answer = await hasher.hash(path, size)
  if (answer === 'unavailable') {
    if (!progress.readBackLogged) {
      progress.readBackLogged = true
      log.info(
        'the host does not run openssl, sha256sum or shasum for us (no shell, none installed, or no session left): verifying by reading each file back over SFTP'
      )
    }
    return readBackHash(sftp, path)
  }
  if (answer === 'unreadable')
    throw new DeployError('remote-failure', `cannot read '${path}' on the host to verify it`)
  return answer.sha256
}

/** Whether the host has `file` at `path` already, the same size and SHA-256. */
export async function alreadyThere(
  attempt: Attempt,
  file: PlannedFile,
  path: string
): Promise<boolean> {
  if (attempt.settings.verify !== 'sha256') return false
  const existing = await attempt.sftp.lstat(path)
  if (existing?.isFile !== true || existing.size !== file.size) return false
  const [local, remote] = await Promise.all([
    attempt.localHasher.digest(file.localPath, file.size),
    remoteDigest(attempt, path, file.size)
  ])
  return local.sha256 === remote && local.size === file.size
}

/** Checks the `size` bytes sent of `file`, now at `path` on the host, as `verify` says. */
export async function verifyFile(
  attempt: Attempt,
  file: PlannedFile,
  path: string,
  size: number,
  source?: HostDigestSource
): Promise<void> {
  switch (attempt.settings.verify) {
    case 'none':
      return
    case 'size': {
      const stat = await attempt.sftp.stat(path)
      if (stat?.size !== size)
        throw new DeployError(
          'verify-mismatch',
          `'${file.relativePath}' has ${stat?.size ?? 'no'} bytes on the host after sending ${size}`
        )
      return
    }
    case 'sha256': {
      const [local, remote] = await Promise.all([
        attempt.localHasher.digest(file.localPath, file.size),
        remoteDigest(attempt, path, size, source)
      ])
      compareDigests(attempt.progress, file, size, local, remote)
    }
  }
}

/** Throws unless `local` (the runner's digest of the `size` bytes sent) matches the host's. */
export function compareDigests(
  progress: HostProgress,
  file: PlannedFile,
  size: number,
  local: LocalDigest,
  remote: string
): void {
  if (local.size !== size) throw changedOnRunner(file, `${size} bytes sent, ${local.size} hashed`)
  if (local.sha256 !== remote) {
    // The runner's copy may be what changed (another file renamed over it, say).
    checkIdentity(file)
    progress.parallelWritesUnsafe = true
    throw new DeployError(
      'verify-mismatch',
      `'${file.relativePath}' arrived corrupted: SHA-256 on the host ${remote.slice(0, 16)}…, expected ${local.sha256.slice(0, 16)}…`
    )
  }
}
