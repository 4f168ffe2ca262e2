// The releases on a host, as its deploy root holds them:
//
//   <target>/releases/<name>/   one directory per release, never changed once made
//   <target>/current            a symbolic link to releases/<name>, switched by one rename
//   <target>/shared/            what `shared-paths` links into every release
//   <target>/releases.log       the order the releases were made in (see history.ts)
//
// Read and changed over SFTP, which every host has (a shell is used only to remove a tree).

import { posix } from 'node:path'
import { DeployError, isConnectionEnded } from '../../errors.js'
import { removeCommand } from '../../remote/tar-extract.js'
import { listTree } from '../../remote/tree.js'
import { removeOverSftp } from '../sync.js'
import type { SftpSession, SshConnection } from '../../ssh/types.js'
import { HISTORY_FILE, orderedReleases, parseHistory } from './history.js'

export const RELEASES_DIR = 'releases'
export const CURRENT_LINK = 'current'
export const SHARED_DIR = 'shared'

// The record is read whole; it grows by one short line per release.
const HISTORY_MAX_BYTES = 1024 * 1024

/** The text of `current` when it points to release `name`. */
export function releaseLink(name: string): string {
  return `${RELEASES_DIR}/${name}`
}

export function releaseDir(root: string, name: string): string {
  return posix.join(root, RELEASES_DIR, name)
}

/** What a host has: its releases in order, and the one `current` points to. */
export interface HostReleases {
  /** Oldest first. */
  readonly ordered: readonly string[]
  readonly current: string | undefined
  /** The record's lines as read, to keep what they say of each release. */
  readonly historyLines: readonly string[]
  /** The directories under `releases/`. */
  readonly directories: ReadonlySet<string>
}

async function readWhole(sftp: SftpSession, path: string, max: number): Promise<string> {
  const handle = await sftp.open(path, 'r').catch((error: unknown) => {
    if (error instanceof DeployError && error.kind === 'no-such-path') return undefined
    throw error
  })
  if (handle === undefined) return ''
  try {
    const chunks: Buffer[] = []
    for (let position = 0; position < max;) {
      const buffer = Buffer.alloc(Math.min(sftp.maxReadLength, max - position))
      const length = await sftp.read(handle, buffer, buffer.length, position)
      if (length === 0) break
      chunks.push(buffer.subarray(0, length))
      position += length
    }
    return Buffer.concat(chunks).toString('utf8')
  } finally {
    await sftp.close(handle).catch(() => undefined)
  }
}

/** Writes `text` at `path` whole or not at all: under a name of its own, then renamed over it. */
export async function writeWhole(
  sftp: SftpSession,
  path: string,
  text: string,
  token: string
): Promise<void> {
  const own = `${path}.${token}.tmp`
  const handle = await sftp.open(own, 'w', 0o644)
  try {
    const data = Buffer.from(text)
    if (data.length > 0) await sftp.write(handle, data, data.length, 0)
  } finally {
    await sftp.close(handle)
  }
  await sftp.posixRename(own, path)
}

/**
 * The release `current` points to: undefined where there is no `current`. A `current` that is
 * not a link, or not to a directory under `releases/`, is refused: it is not ours to replace.
 */
async function readCurrent(
  sftp: SftpSession,
  root: string,
  directories: ReadonlySet<string>
): Promise<string | undefined> {
  const path = posix.join(root, CURRENT_LINK)
  const found = await sftp.lstat(path)
  if (found === undefined) return undefined
  if (!found.isSymbolicLink)
    throw new DeployError(
      'release',
      `${path} is there and is not a symbolic link: releases switch it as a link to releases/<name>; move it away (or deploy in place to another target)`
    )
  const text = await sftp.readlink(path)
  const name = posix.basename(text)
  const under = posix.basename(posix.dirname(text))
  if (under !== RELEASES_DIR || !directories.has(name))
    throw new DeployError(
      'release',
      `${path} points to '${text}', not to a release under ${posix.join(root, RELEASES_DIR)}: it is not this deploy's to switch`
    )
  return name
}

/** Reads what `root` holds of releases. */
export async function readHostReleases(sftp: SftpSession, root: string): Promise<HostReleases> {
  const entries = await sftp.readdir(posix.join(root, RELEASES_DIR)).catch((error: unknown) => {
    if (error instanceof DeployError && error.kind === 'no-such-path') return []
    throw error
  })
  const directories = new Set(
    entries.filter((entry) => entry.stat.isDirectory).map((entry) => entry.name)
  )
  const text = await readWhole(sftp, posix.join(root, HISTORY_FILE), HISTORY_MAX_BYTES)
  const current = await readCurrent(sftp, root, directories)
  return {
    ordered: orderedReleases(parseHistory(text), directories, current),
    current,
    historyLines: text.split('\n').filter((line) => line.trim() !== ''),
    directories
  }
}

/**
 * Points `current` at `releases/<name>` with one rename: a new link under a name of this
 * host's own, renamed over `current` (posix-rename@openssh.com: rename(2), atomic). Readers see
 * the old release or the new one. `name` undefined removes `current` (there was none before).
 */
export async function pointCurrent(
  sftp: SftpSession,
  root: string,
  name: string | undefined,
  token: string
): Promise<void> {
  const path = posix.join(root, CURRENT_LINK)
  if (name === undefined) {
    await sftp.unlink(path).catch((error: unknown) => {
      if (!(error instanceof DeployError && error.kind === 'no-such-path')) throw error
    })
    return
  }
  if (!sftp.hasPosixRename)
    throw new DeployError(
      'release',
      `the SFTP server does not offer posix-rename@openssh.com, so ${path} cannot be switched in one step; releases need it`
    )
  const own = posix.join(root, `.${CURRENT_LINK}.${token}.tmp`)
  await sftp.unlink(own).catch(() => undefined)
  const text = releaseLink(name)
  await sftp.symlink(text, own)
  try {
    await sftp.posixRename(own, path)
  } catch (error) {
    await sftp.unlink(own).catch(() => undefined)
    throw error
  }
}

/**
 * Removes a directory and all in it: `rm -rf` in the host's shell, else over SFTP (files and
 * links unlinked, never followed; then the directories, deepest first).
 */
export async function removeTree(
  connection: SshConnection,
  sftp: SftpSession,
  dir: string
): Promise<void> {
  const removed = await connection.exec(removeCommand(dir)).catch((error: unknown) => {
    if (isConnectionEnded(error)) throw error
    return undefined
  })
  if (removed?.code === 0 && (await sftp.lstat(dir)) === undefined) return
  const entries = await listTree(sftp, dir).catch((error: unknown) => {
    if (error instanceof DeployError && error.kind === 'no-such-path') return undefined
    throw error
  })
  if (entries === undefined) return
  const inside = (kind: 'directories' | 'others'): string[] =>
    entries
      .filter((entry) => (entry.kind === 'directory') === (kind === 'directories'))
      .map((entry) => posix.join(dir, entry.path))
  await removeOverSftp(
    sftp,
    inside('others'),
    inside('directories').sort((a, b) => b.split('/').length - a.split('/').length)
  )
  await sftp.rmdir(dir)
}
