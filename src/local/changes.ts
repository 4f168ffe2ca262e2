// A local file that changes while the run reads it must not be deployed as a copy that never
// existed (blocks of two versions), nor left to fail as "corrupted" on the next host. Every read
// that a digest is taken from, or that is sent without one, is checked against what the plan
// found (size, times, inode): a file the same as then is fine; one that has only grown, whose
// first bytes are still those that were read, is fine too (a log being appended to: what was
// sent is a prefix of it); anything else fails the host with "changed on the runner", which is
// never retried and never counts as success.

import { createHash } from 'node:crypto'
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs'
import { open } from 'node:fs/promises'
import { DeployError, localFileError } from '../errors.js'
import type { FileIdentity, PlannedFile } from './plan.js'

export type CheckedFile = Pick<PlannedFile, 'localPath' | 'relativePath' | 'identity'>

export function changedOnRunner(
  file: Pick<PlannedFile, 'relativePath'>,
  detail: string
): DeployError {
  return new DeployError(
    'local-file',
    `'${file.relativePath}' changed on the runner while it was being deployed (${detail}): a read that may mix two versions is never published; deploy again once it has settled`
  )
}

/** How `stats` differ from what the plan found, or undefined where they do not. */
export function identityChange(identity: FileIdentity, stats: Stats): string | undefined {
  if (stats.ino !== identity.ino) return 'another file is at its path now'
  if (stats.size < identity.size) return `it shrank from ${identity.size} to ${stats.size} bytes`
  if (stats.size > identity.size) return `it grew from ${identity.size} to ${stats.size} bytes`
  if (stats.mtimeMs !== identity.mtimeMs || stats.ctimeMs !== identity.ctimeMs)
    return 'it was modified'
  return undefined
}

/** Whether the file may have only grown: the same inode, no smaller than planned or read. */
function onlyGrown(identity: FileIdentity, stats: Stats, read: number): boolean {
  return stats.ino === identity.ino && stats.size >= identity.size && stats.size >= read
}

function statNow(file: CheckedFile): Stats {
  try {
    return statSync(file.localPath)
  } catch (error) {
    throw localFileError(file.localPath, error)
  }
}

/**
 * After a small file was read whole into `content` (through `fd`, still open): throws unless
 * the file is as the plan found it, or has only grown with `content` as its first bytes.
 */
export function checkReadSync(file: CheckedFile, fd: number, content: Buffer): void {
  const stats = fstatSync(fd)
  const change = identityChange(file.identity, stats)
  if (change === undefined) return
  if (onlyGrown(file.identity, stats, content.length)) {
    const now = Buffer.allocUnsafe(content.length)
    const read = readSync(fd, now, 0, content.length, 0)
    if (read === content.length && now.equals(content)) return
  }
  throw changedOnRunner(file, change)
}

/** checkReadSync for a file read by path. */
export function checkReadByPath(file: CheckedFile, content: Buffer): void {
  let fd: number
  try {
    fd = openSync(file.localPath, 'r')
  } catch (error) {
    throw localFileError(file.localPath, error)
  }
  try {
    checkReadSync(file, fd, content)
  } finally {
    closeSync(fd)
  }
}

/** SHA-256 of the first `size` bytes of a local file, or undefined where it has fewer. */
async function prefixDigest(localPath: string, size: number): Promise<string | undefined> {
  const hash = createHash('sha256')
  const file = await open(localPath, 'r')
  try {
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(1024 * 1024, size)))
    for (let at = 0; at < size;) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, size - at), at)
      if (bytesRead === 0) return undefined
      hash.update(buffer.subarray(0, bytesRead))
      at += bytesRead
    }
  } finally {
    await file.close()
  }
  return hash.digest('hex')
}

/**
 * After a file was sent (read through): throws unless it is as the plan found it, or has only
 * grown with the bytes sent (`sent`: their digest, where it was taken) as its first bytes.
 */
export async function checkSent(
  file: CheckedFile,
  sent: { readonly sha256: string; readonly size: number } | undefined
): Promise<void> {
  const stats = statNow(file)
  const change = identityChange(file.identity, stats)
  if (change === undefined) return
  if (sent !== undefined && onlyGrown(file.identity, stats, sent.size)) {
    const now = await prefixDigest(file.localPath, sent.size).catch(() => undefined)
    if (now === sent.sha256) return
  }
  throw changedOnRunner(file, change)
}

/** Throws `changedOnRunner` where the file is not as the plan found it (no allowance). */
export function checkIdentity(file: CheckedFile): void {
  const change = identityChange(file.identity, statNow(file))
  if (change !== undefined) throw changedOnRunner(file, change)
}
