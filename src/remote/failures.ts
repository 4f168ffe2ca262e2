// What a failed write or rename on the host was about, where the server's answer does not say:
// SFTP's FAILURE status covers a full disk, a quota, a read-only file system, and a directory
// where a file is to go alike.

import { DeployError } from '../errors.js'
import type { SftpSession } from '../ssh/types.js'

/**
 * The error to report where publishing `relativePath` at `finalPath` failed because a directory
 * is there; undefined where none is (or the host cannot be asked).
 */
export async function directoryInTheWay(
  sftp: SftpSession,
  finalPath: string,
  relativePath: string,
  error: unknown
): Promise<DeployError | undefined> {
  if (!(error instanceof DeployError) || error.kind !== 'remote-failure') return undefined
  const found = await sftp.lstat(finalPath).catch(() => undefined)
  if (found?.isDirectory !== true) return undefined
  return new DeployError(
    'remote-failure',
    `'${relativePath}' cannot be published: a directory is in the way at '${finalPath}' on the host; remove it, or deploy the file under another name`,
    { cause: error }
  )
}
