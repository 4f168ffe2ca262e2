// The `target` input (and an inventory host's `target`) as the SFTP path the host resolves.

import { posix } from 'node:path'

/**
 * The `target` input as an SFTP path. SFTP resolves relative paths against the login directory,
 * so `~` and `~/x` become `.` and `x`; trailing slashes are dropped.
 */
export function normalizeTarget(target: string): string {
  let value = target.trim()
  if (value === '~') return '.'
  if (value.startsWith('~/')) value = value.slice(2) || '.'
  if (value.length > 1) value = value.replace(/\/+$/, '') || '/'
  return posix.normalize(value)
}
