// A look at the target before anything is sent, in a hashing shell: whether it is there, and
// if not, made, where it is and the room on its file system. And the free space `df` reports
// where SFTP's statvfs is not offered.

import { quotePath } from './shell-quote.js'
import { END_LINE } from './shell-protocol.js'

/**
 * Looks at the target before anything is sent, in a hashing shell: whether it is there, and if
 * not, makes it and answers where it is (symbolic links resolved) and the room on its file
 * system (`df -Pk`), as the SFTP server's stat, mkdir, realpath and statvfs would. Paths are
 * relative to the login directory, as the SFTP server's are.
 */
export function targetProbeScript(target: string): string {
  const quoted = quotePath(target)
  return [
    `if [ -e ${quoted} ] || [ -h ${quoted} ]; then echo sfd-probe there`,
    `elif mkdir -p ${quoted} 2>/dev/null && b=$(cd ${quoted} && pwd -P); then`,
    `  printf 'sfd-probe made\\nsfd-base %s\\n' "$b"`,
    `  df -Pk ${quoted} 2>/dev/null | sfd_prefix`,
    'else echo sfd-probe failed; fi',
    `echo ${END_LINE}`,
    ''
  ].join('\n')
}

/** A target the probe made: its absolute path, and the bytes free there when df said. */
export interface MadeTarget {
  readonly base: string
  readonly freeBytes: number | undefined
}

/** Reads targetProbeScript's answer: the target made, or undefined (there, or not made). */
export function parseTargetProbe(lines: readonly string[]): MadeTarget | undefined {
  if (!lines.includes('sfd-probe made')) return undefined
  const base = lines.find((line) => line.startsWith('sfd-base '))?.slice('sfd-base '.length)
  if (base === undefined || !base.startsWith('/')) return undefined
  const df = lines.filter((line) => line.startsWith('sfd-o ')).map((line) => line.slice(6))
  return { base, freeBytes: parseFreeSpace(df) }
}

/** The command that asks a host's shell for the space at `dir` (POSIX `df -P`, KiB). */
export function freeSpaceCommand(dir: string): string {
  return `df -Pk ${quotePath(dir)}`
}

/**
 * The bytes available from `df -Pk` output: POSIX df -P prints a header, then
 * `filesystem blocks used available capacity mount` per line; the last line is the one asked
 * about. Undefined where it does not say.
 */
export function parseFreeSpace(lines: readonly string[]): number | undefined {
  const fields = lines
    .filter((line) => line.trim() !== '')
    .at(-1)
    ?.trim()
    .split(/\s+/)
  const available = Number(fields?.[3])
  return fields !== undefined && fields.length >= 4 && Number.isInteger(available)
    ? available * 1024
    : undefined
}
