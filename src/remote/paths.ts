// Remote paths are POSIX whatever the runner's OS. Pure helpers for the target directory, the
// path each file lands at, and the temporary name it is written under before it is published.

import { createHash } from 'node:crypto'
import { posix, sep } from 'node:path'
import { InputError } from '../errors.js'

/**
 * Converts a runner-local relative path to POSIX segments, split on the runner's own separators
 * only: `/` on Linux and macOS, where `\\` is an ordinary character of a name; `\\` and `/` on
 * Windows.
 */
export function toPosixSegments(relative: string, separator: string = sep): string[] {
  const separators = separator === '\\' ? /[\\/]+/ : /\/+/
  return relative.split(separators).filter((segment) => segment !== '' && segment !== '.')
}

/**
 * The one check every remote path goes through, whatever produced it: a file's place under
 * `target` is relative, its segments neither empty nor `.` nor `..`, and without NUL, so it
 * cannot land outside `target`. Throws naming the file.
 */
export function checkUnderTarget(relativePath: string, localPath: string): void {
  const segments = relativePath.split('/')
  const bad =
    relativePath === '' ||
    relativePath.includes('\0') ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..')
  if (bad)
    throw new InputError(
      'source',
      `'${localPath}' would land at '${relativePath}', which is not a path below target: nothing is deployed outside target`
    )
}

/**
 * A function joining `base` with a relative path, as posix.join would: the relative path is
 * POSIX segments with none empty, `.` or `..` (a walked or matched file's place), so only `base`
 * needs normalizing, once for a whole plan (posix.join per file is measurable for tens of
 * thousands of files).
 */
export function remoteJoiner(base: string): (relative: string) => string {
  // What comes before a plain name once joined.
  const prefix = posix.join(base, 'x').slice(0, -1)
  return (relative) => (relative === '' ? posix.join(base, relative) : prefix + relative)
}

/** `base` joined with `relative`: see remoteJoiner. */
export function joinRemote(base: string, relative: string): string {
  return remoteJoiner(base)(relative)
}

// File names are limited to 255 bytes on the common file systems; the temporary name adds
// a prefix and a suffix, so the original name is shortened in it when it is long.
const MAX_NAME_BYTES = 255
const TEMP_SUFFIX = '.sfd-tmp'

function truncateUtf8(text: string, maxBytes: number): string {
  let result = ''
  let bytes = 0
  for (const ch of text) {
    const size = Buffer.byteLength(ch)
    if (bytes + size > maxBytes) break
    result += ch
    bytes += size
  }
  return result
}

/**
 * The temporary name a file is written under, in the same directory as its final path (so the
 * rename that publishes it never crosses file systems). Deterministic for one token (a run's
 * host) and one file: a retry finds its own partial file, and another run's or another host's
 * never collides with it.
 */
export function temporaryPath(finalPath: string, token: string): string {
  const dir = posix.dirname(finalPath)
  const base = posix.basename(finalPath)
  const tag = createHash('sha256').update(`${token}\0${finalPath}`).digest('hex').slice(0, 12)
  const room = MAX_NAME_BYTES - 1 - 1 - tag.length - TEMP_SUFFIX.length
  const name = `.${truncateUtf8(base, room)}.${tag}${TEMP_SUFFIX}`
  return dir === '.' ? name : posix.join(dir, name)
}

/** The start of a tar stream's staging directory's name (see stagingPath). */
export const STAGING_PREFIX = '.sfd-stage-'
/** The start of the preflight's probe file's name. */
export const PREFLIGHT_PREFIX = '.sfd-preflight-'

// What temporaryPath puts before TEMP_SUFFIX: a dot, the (shortened) name, a dot, the tag.
const TEMPORARY_STEM = /^\..*\.[0-9a-f]{12}$/

/** Whether one path segment is a name temporaryPath, stagingPath or the preflight makes. */
function isWorkingSegment(segment: string): boolean {
  if (segment.startsWith(STAGING_PREFIX) || segment.startsWith(PREFLIGHT_PREFIX)) return true
  return segment.endsWith(TEMP_SUFFIX) && TEMPORARY_STEM.test(segment.slice(0, -TEMP_SUFFIX.length))
}

/**
 * Whether a path (relative to the target) is or is inside a name this action writes while it
 * works: a temporary file, a staging directory, a preflight probe, this run's or another's.
 */
export function isWorkingName(relativePath: string): boolean {
  return relativePath.split('/').some(isWorkingSegment)
}
