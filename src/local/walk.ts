// The walk behind `source` for the patterns most workflows use: `**`, and paths without glob
// characters (`dist`, `dist/**`, `site/index.html`), none negated. Each takes everything below
// its literal part, so no entry needs a pattern matched against it. The walk makes the calls
// @actions/glob's makes, in the same order, with the same errors (a broken link, a link cycle,
// a vanished entry), synchronously, and keeps each file's stat for the plan instead of leaving
// the plan to stat every file again. Other patterns go through @actions/glob itself.

import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs'
import { isAbsolute, join, sep } from 'node:path'

export interface WalkedFile {
  /** Absolute local path, as @actions/glob would give it. */
  readonly localPath: string
  /** POSIX path relative to the working directory. */
  readonly relativePath: string
  /** The file's stat: a regular file (links followed), or a link where they are not followed. */
  readonly stats: Stats
}

/** A literal root: a path relative to the working directory ('' for all of it). */
export interface LiteralRoot {
  readonly path: string
  /** Written as `path/**`: @actions/glob gives nothing for it when `path` is a file. */
  readonly globstar: boolean
}

const GLOB_CHARACTERS = /[*?[\]\\]/

/**
 * The roots the patterns name, when every one is `**` or a relative literal path (optionally
 * ending in `/**`) and none is negated; undefined when any needs @actions/glob's matching.
 * Comments and blank lines are skipped, as anchorPattern skips them. `separator` is the runner's.
 */
export function literalRoots(
  patterns: readonly string[],
  separator: string = sep
): LiteralRoot[] | undefined {
  // Windows paths (either separator, case rules) are left to @actions/glob's own handling.
  if (separator === '\\') return undefined
  const roots: LiteralRoot[] = []
  for (const pattern of patterns) {
    const line = pattern.trim()
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('!') || isAbsolute(line)) return undefined
    if (line === '**') {
      roots.push({ path: '', globstar: true })
      continue
    }
    const globstar = line.endsWith('/**')
    const path = globstar ? line.slice(0, -3) : line
    const literal = path
      .split('/')
      .every(
        (segment) =>
          segment !== '' && segment !== '.' && segment !== '..' && !GLOB_CHARACTERS.test(segment)
      )
    if (!literal) return undefined
    roots.push({ path, globstar })
  }
  return roots.length === 0 ? undefined : roots
}

/** Roots with none below another (as @actions/glob's search paths), shortest first. */
function outermost(roots: readonly LiteralRoot[]): string[] {
  const paths = [...new Set(roots.map((root) => root.path))].sort(
    (a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
  )
  const kept: string[] = []
  for (const path of paths)
    if (!kept.some((outer) => outer === '' || path.startsWith(`${outer}/`))) kept.push(path)
  return kept
}

function errorCode(error: unknown): unknown {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

interface Entry {
  readonly path: string
  readonly relativePath: string
  readonly level: number
}

/**
 * Every file below the roots, or undefined where @actions/glob would treat a root differently
 * (a `path/**` root that is not a directory). Throws what @actions/glob throws.
 */
export function walkLiteral(
  workingDirectory: string,
  roots: readonly LiteralRoot[],
  followSymbolicLinks: boolean
): WalkedFile[] | undefined {
  const files: WalkedFile[] = []
  for (const rootPath of outermost(roots)) {
    const path = rootPath === '' ? workingDirectory : join(workingDirectory, rootPath)
    try {
      // As @actions/glob: lstat, so that a broken link is reported by the stat below.
      lstatSync(path)
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue
      throw error
    }
    const stack: Entry[] = [{ path, relativePath: rootPath, level: 1 }]
    // Real paths of the directories being walked, one per level: a link back into one is a cycle.
    const chain: string[] = []
    let root = true
    while (stack.length > 0) {
      const entry = stack.pop() as Entry
      const stats = statEntry(entry, followSymbolicLinks, chain)
      if (stats === undefined) continue
      if (root) {
        root = false
        const globstar = roots.some(
          (candidate) => candidate.path === rootPath && candidate.globstar
        )
        if (globstar && rootPath !== '' && !stats.isDirectory()) return undefined
      }
      if (stats.isDirectory()) {
        const names = readdirSync(entry.path)
        for (let index = names.length - 1; index >= 0; index--) {
          const name = names[index] as string
          stack.push({
            path: join(entry.path, name),
            relativePath: entry.relativePath === '' ? name : `${entry.relativePath}/${name}`,
            level: entry.level + 1
          })
        }
        continue
      }
      const file = fileStats(stats)
      if (file !== undefined)
        files.push({ localPath: entry.path, relativePath: entry.relativePath, stats: file })
    }
  }
  return files
}

/** @actions/glob's DefaultGlobber.stat, synchronous: undefined for a link cycle. */
function statEntry(entry: Entry, follow: boolean, chain: string[]): Stats | undefined {
  if (!follow) return lstatSync(entry.path)
  let stats: Stats
  try {
    stats = statSync(entry.path)
  } catch (error) {
    if (errorCode(error) === 'ENOENT')
      throw new Error(
        `No information found for the path '${entry.path}'. This may indicate a broken symbolic link.`,
        { cause: error }
      )
    throw error
  }
  if (stats.isDirectory()) {
    const real = realpathSync.native(entry.path)
    while (chain.length >= entry.level) chain.pop()
    if (chain.includes(real)) return undefined
    chain.push(real)
  }
  return stats
}

/**
 * What the plan takes of a non-directory match: a regular file, or where links are not followed
 * a symbolic link (whatever it points to: it is deployed as a link); undefined for anything else.
 */
function fileStats(stats: Stats): Stats | undefined {
  return stats.isFile() || stats.isSymbolicLink() ? stats : undefined
}
