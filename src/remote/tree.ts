// What is under a directory on the host, over SFTP (which every host has, shell or not): each
// entry as lstat describes it, so a symbolic link is listed as a link and never followed.

import { posix } from 'node:path'
import type { SftpSession } from '../ssh/types.js'

export type EntryKind = 'file' | 'link' | 'directory' | 'other'

export interface TreeEntry {
  /** POSIX, relative to the directory listed. */
  readonly path: string
  readonly kind: EntryKind
}

// Directories read at once: SFTP requests pipeline over the one session.
const READS_IN_FLIGHT = 16

/** Every entry below `base` (not `base` itself), directories before what they hold. */
export async function listTree(sftp: SftpSession, base: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = []
  let level = ['']
  while (level.length > 0) {
    const next: string[] = []
    for (let start = 0; start < level.length; start += READS_IN_FLIGHT) {
      const listed = await Promise.all(
        level
          .slice(start, start + READS_IN_FLIGHT)
          .map(async (dir) => ({ dir, items: await sftp.readdir(posix.join(base, dir)) }))
      )
      for (const { dir, items } of listed)
        for (const item of items) {
          const path = dir === '' ? item.name : `${dir}/${item.name}`
          const kind: EntryKind = item.stat.isSymbolicLink
            ? 'link'
            : item.stat.isDirectory
              ? 'directory'
              : item.stat.isFile
                ? 'file'
                : 'other'
          entries.push({ path, kind })
          if (kind === 'directory') next.push(path)
        }
    }
    level = next
  }
  return entries
}
