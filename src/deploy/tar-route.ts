// Many small files as one tar stream (transfer/small-files.ts), as an attempt sends them: into a
// staging directory named for the attempt, each staged file verified as any other and counted
// once published; what the host cannot take as a stream goes over SFTP.

import type { PlannedFile } from '../local/plan.js'
import type { TakenShell } from '../remote/hasher-pool.js'
import { connectionIsUp } from '../transfer/connection-state.js'
import { sendSmallFiles } from '../transfer/small-files.js'
import { publishSmallFiles, stagingPath, type PublishJob } from '../transfer/staged-publish.js'
import type { StreamJob, Streamed } from '../transfer/tar-stream.js'
import { sendOverSftp } from './send-file.js'
import { bytesCounter, recordDone } from './progress.js'
import { attemptToken, type Attempt, type Connected } from './types.js'
import { compareDigests, verifyFile } from './verify.js'

/** Small files already on their way into a target the hashing shell made. */
export interface ShellStream {
  readonly base: string
  readonly freeBytes: number
  readonly stagingDir: string
  readonly streamed: Promise<Streamed>
}

/** The staging directory of this attempt's tar stream in `base`, to remove if it is left. */
export function newStagingDir(connected: Connected, base: string): string {
  const stagingDir = stagingPath(base, attemptToken(connected))
  connected.progress.stagingDirs.add(stagingDir)
  return stagingDir
}

/** What the tar stream of `files` into `stagingDir` needs. */
export function streamJob(
  connected: Connected,
  stagingDir: string,
  files: readonly PlannedFile[],
  takeShell: () => Promise<TakenShell | undefined>
): StreamJob {
  const { settings, log } = connected
  return {
    connection: connected.connection,
    localHasher: connected.localHasher,
    hashLocally: settings.verify === 'sha256',
    takeShell,
    idleTimeoutMs: settings.idleTimeoutMs,
    stagingDir,
    files,
    signal: connected.signal,
    onBytes: bytesCounter(connected.progress),
    log: (line) => log.info(line)
  }
}

/** What publishing the staged `files` needs: each verified as the attempt verifies any file. */
function publishJob(
  attempt: Attempt,
  stagingDir: string,
  files: readonly PlannedFile[]
): PublishJob {
  const { settings, localHasher, progress } = attempt
  return {
    connection: attempt.connection,
    sftp: attempt.sftp,
    verifyStaged: (file, stagedPath, sha256) =>
      verifyFile(
        attempt,
        file,
        stagedPath,
        file.size,
        sha256 === undefined ? undefined : { sha256 }
      ),
    checkStaged: (file, sha256) => {
      const local = settings.verify === 'sha256' ? localHasher.known(file.localPath) : undefined
      if (local === undefined) return false
      compareDigests(progress, file, file.size, local, sha256)
      return true
    },
    base: attempt.base,
    targetIsNew: attempt.targetIsNew,
    stagingDir,
    ensureDir: attempt.ensureDir,
    files,
    onPublished: (file) => recordDone(progress, file, 'uploaded'),
    log: (line) => attempt.log.info(line)
  }
}

/** The staging directory is gone, unless the connection is: not to be removed after a failure. */
function stagingDone(attempt: Attempt, stagingDir: string): void {
  if (connectionIsUp(attempt.connection)) attempt.progress.stagingDirs.delete(stagingDir)
}

/** Publishes the files the hashing shell took (`stream`); those it could not go over SFTP. */
export async function publishShellStream(
  attempt: Attempt,
  stream: ShellStream,
  files: readonly PlannedFile[]
): Promise<void> {
  const streamed = await stream.streamed
  if (streamed.staged)
    await publishSmallFiles(publishJob(attempt, stream.stagingDir, files), streamed.digests)
  stagingDone(attempt, stream.stagingDir)
  await sendOverSftp(attempt, streamed.staged ? [] : files)
}

/** Sends `files` as one tar stream into the target, and publishes them; else over SFTP. */
export async function sendAsTar(attempt: Attempt, files: readonly PlannedFile[]): Promise<void> {
  const stagingDir = newStagingDir(attempt, attempt.base)
  const left = await sendSmallFiles({
    ...streamJob(attempt, stagingDir, files, () =>
      attempt.hasher === undefined ? Promise.resolve(undefined) : attempt.hasher.takeShell()
    ),
    ...publishJob(attempt, stagingDir, files)
  })
  stagingDone(attempt, stagingDir)
  await sendOverSftp(attempt, left)
}
