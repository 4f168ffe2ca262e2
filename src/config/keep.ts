// `keep`: glob patterns, relative to target, of what `delete` never touches. A path is kept
// where a pattern matches it or one of the directories it is in (`uploads` keeps everything
// below it, as `uploads/**` does); a directory is kept where anything below it could be.
// Hidden names match like any other, as in `source`.

import { Minimatch } from 'minimatch'
import { InputError } from '../errors.js'

/** The patterns, one per line (blank lines and `#` comments skipped); refused where they leave target. */
export function parseKeep(text: string): string[] {
  const patterns = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  for (const pattern of patterns) {
    const segments = pattern.replace(/\/+$/, '').split('/')
    if (pattern.startsWith('/') || pattern.startsWith('!') || segments.includes('..'))
      throw new InputError(
        'keep',
        `'${pattern}' must be a pattern relative to target, without '..' or a leading '!' (${pattern.startsWith('/') ? 'an absolute path' : 'it would reach outside target, or exclude'})`
      )
  }
  return patterns
}

export interface KeepRules {
  /** Whether a file or link at `path` (relative to target) is kept. */
  keepsFile(path: string): boolean
  /** Whether the directory at `path` is kept (it, or something that could be below it, matches). */
  keepsDirectory(path: string): boolean
}

export function keepRules(patterns: readonly string[]): KeepRules {
  // `dir/**` keeps `dir` itself too (a link to shared storage, say), as it keeps everything in it.
  const expanded = patterns.flatMap((pattern) => {
    const trimmed = pattern.replace(/\/+$/, '')
    return trimmed.endsWith('/**') ? [trimmed, trimmed.slice(0, -3)] : [trimmed]
  })
  const matchers = expanded.map((pattern) => new Minimatch(pattern, { dot: true }))
  const matches = (path: string): boolean => matchers.some((matcher) => matcher.match(path))
  const inKeptDirectory = (path: string): boolean => {
    const segments = path.split('/')
    for (let depth = 1; depth < segments.length; depth += 1)
      if (matches(segments.slice(0, depth).join('/'))) return true
    return false
  }
  return {
    keepsFile: (path) => matches(path) || inKeptDirectory(path),
    keepsDirectory: (path) =>
      matches(path) ||
      inKeptDirectory(path) ||
      matchers.some((matcher) => matcher.match(path, true))
  }
}
