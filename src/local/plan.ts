// The plan: which local files go where. `source` globs are expanded once per run under
// `working-directory`; each match keeps its path relative to that directory, minus
// `strip-components` leading segments, below `target`.

import * as glob from '@actions/glob'
import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs'
import nodePath, { type PlatformPath } from 'node:path'
import { errorMessage, InputError, localFileError } from '../errors.js'
import { escapeName, explainUnrepresentableName, isUtf8 } from './names.js'
import { checkUnderTarget, toPosixSegments } from '../remote/paths.js'
import { literalRoots, walkLiteral } from './walk.js'

export interface PlannedFile {
  /** Absolute local path. */
  readonly localPath: string
  /** POSIX path relative to `target`, after `strip-components`. */
  readonly relativePath: string
  readonly size: number
  /** Permission bits of the local file, applied to the new remote file. */
  readonly mode: number
  /**
   * What the file was when the plan was made: a read that finds it otherwise (its content
   * rewritten, or another file renamed over it) fails instead of sending a copy that never was.
   */
  readonly identity: FileIdentity
  /**
   * With `follow-symbolic-links: false`, a symbolic link is deployed as a link: its target text,
   * sent as it is (as `rsync -a` does). Undefined for a file, whose content is sent.
   */
  readonly linkTarget?: string
}

/** A local file's size, times and inode, as stat gives them. */
export interface FileIdentity {
  readonly size: number
  readonly mtimeMs: number
  readonly ctimeMs: number
  readonly ino: number
}

export function identityOf(stats: Stats): FileIdentity {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino }
}

export interface Plan {
  readonly files: readonly PlannedFile[]
  readonly totalBytes: number
}

/**
 * The runner's path rules: `node:path` in a run; `path.win32` or `path.posix` in tests, so that
 * Windows paths are planned the same way on any machine.
 */
export type PathFlavor = Pick<PlatformPath, 'sep' | 'isAbsolute' | 'relative' | 'resolve'>

export interface PlanOptions {
  readonly patterns: readonly string[]
  /** Absolute. */
  readonly workingDirectory: string
  readonly stripComponents: number
  readonly followSymbolicLinks: boolean
}

// @actions/glob reads patterns relative to the process's directory; patterns here are relative
// to `working-directory`, so its path is prefixed, with its own glob characters made literal.
function escapeGlob(path: string): string {
  return path.replace(/[*?[\]]/g, (ch) => `[${ch}]`)
}

export function anchorPattern(
  pattern: string,
  base: string,
  path: PathFlavor = nodePath
): string | undefined {
  const line = pattern.trim()
  if (line === '' || line.startsWith('#')) return undefined
  const negated = line.startsWith('!')
  const body = negated ? line.slice(1).trim() : line
  const anchored = path.isAbsolute(body) ? body : `${escapeGlob(base)}/${body}`
  return negated ? `!${anchored}` : anchored
}

/**
 * A local match's place relative to `target`, its path split by the runner's own separators
 * only. Throws the error a user should see.
 */
export function mapFile(
  localPath: string,
  options: Pick<PlanOptions, 'workingDirectory' | 'stripComponents'>,
  path: PathFlavor = nodePath
): string {
  const rel = path.relative(options.workingDirectory, localPath)
  // `...` and `..x` are ordinary names; only `..` itself climbs. On Windows a match on another
  // drive or share is given back absolute.
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel))
    throw new InputError(
      'source',
      `'${localPath}' is outside working-directory '${options.workingDirectory}'; every file must be below it`
    )
  return place(toPosixSegments(rel, path.sep), options)
}

/** A file's place relative to `target` from its POSIX segments below the working directory. */
function place(segments: readonly string[], options: Pick<PlanOptions, 'stripComponents'>): string {
  if (segments.length <= options.stripComponents)
    throw new InputError(
      'strip-components',
      `${options.stripComponents} would remove the whole path of '${segments.join('/')}' (it has ${segments.length} component${segments.length === 1 ? '' : 's'})`
    )
  return segments.slice(options.stripComponents).join('/')
}

export interface Match {
  readonly localPath: string
  /** POSIX, below the working directory, where the walk knows it. */
  readonly walkedPath?: string
  readonly stats?: Stats
}

/**
 * Where a match lands relative to `target`, checked here (whatever found it) to be a path below
 * target. Throws the error a user should see.
 */
export function placeOf(
  found: Pick<Match, 'localPath' | 'walkedPath'>,
  options: Pick<PlanOptions, 'workingDirectory' | 'stripComponents'>,
  path: PathFlavor = nodePath
): string {
  const relativePath =
    found.walkedPath === undefined
      ? mapFile(path.resolve(found.localPath), options, path)
      : place(found.walkedPath.split('/'), options)
  checkUnderTarget(relativePath, found.localPath)
  return relativePath
}

/** The matches: by the literal walk where the patterns allow it, else by @actions/glob. */
async function match(options: PlanOptions, anchored: readonly string[]): Promise<Match[]> {
  const roots = literalRoots(options.patterns)
  const walked =
    roots === undefined
      ? undefined
      : walkLiteral(options.workingDirectory, roots, options.followSymbolicLinks)
  if (walked !== undefined)
    return walked.map((file) => ({
      localPath: file.localPath,
      walkedPath: file.relativePath,
      stats: file.stats
    }))
  try {
    const globber = await glob.create(anchored.join('\n'), {
      followSymbolicLinks: options.followSymbolicLinks,
      implicitDescendants: true,
      matchDirectories: false,
      omitBrokenSymbolicLinks: false
    })
    return (await globber.glob()).map((localPath) => ({ localPath }))
  } catch (error) {
    // @actions/glob refuses patterns it cannot read ('..' segments, say): the input is wrong.
    if (error instanceof Error && /^Invalid pattern/.test(error.message))
      throw new InputError('source', error.message, { cause: error })
    throw error
  }
}

export async function buildPlan(options: PlanOptions): Promise<Plan> {
  const anchored = options.patterns
    .map((pattern) => anchorPattern(pattern, options.workingDirectory))
    .filter((pattern): pattern is string => pattern !== undefined)
  if (anchored.length === 0 || anchored.every((pattern) => pattern.startsWith('!')))
    throw new InputError('source', 'names no pattern to include')

  let matches: Match[]
  try {
    matches = await match(options, anchored)
  } catch (error) {
    // A name that is not UTF-8 reaches the glob mangled, and then cannot be found.
    throw explainUnrepresentableName(errorMessage(error)) ?? error
  }

  const byPlace = new Map<string, string>()
  const files: PlannedFile[] = []
  for (const found of matches.sort((a, b) =>
    a.localPath < b.localPath ? -1 : a.localPath > b.localPath ? 1 : 0
  )) {
    const localPath = found.localPath
    const relativePath = placeOf(found, options)
    const clash = byPlace.get(relativePath)
    if (clash !== undefined)
      throw new InputError(
        'strip-components',
        `'${clash}' and '${localPath}' would both land at '${relativePath}' under target`
      )
    byPlace.set(relativePath, localPath)
    const info = found.stats ?? statFile(localPath, options.followSymbolicLinks)
    if (info.isSymbolicLink()) {
      files.push({
        localPath,
        relativePath,
        size: 0,
        mode: 0o777,
        identity: identityOf(info),
        linkTarget: readLink(localPath)
      })
      continue
    }
    if (!info.isFile()) continue
    files.push({
      localPath,
      relativePath,
      size: info.size,
      mode: info.mode & 0o777,
      identity: identityOf(info)
    })
  }
  return { files, totalBytes: files.reduce((sum, file) => sum + file.size, 0) }
}

/** A match's stat: its target's where links are followed, else the link's own. */
function statFile(localPath: string, followSymbolicLinks: boolean): Stats {
  try {
    return followSymbolicLinks ? statSync(localPath) : lstatSync(localPath)
  } catch (error) {
    throw localFileError(localPath, error)
  }
}

/** A link's target text, which must be UTF-8 to be sent. */
function readLink(localPath: string): string {
  let bytes: Buffer
  try {
    bytes = readlinkSync(localPath, { encoding: 'buffer' })
  } catch (error) {
    throw localFileError(localPath, error)
  }
  if (!isUtf8(bytes))
    throw new InputError(
      'source',
      `the symbolic link '${localPath}' points to '${escapeName(bytes)}', which is not valid UTF-8: remote paths are UTF-8, so the link cannot be deployed as it is`
    )
  return bytes.toString('utf8')
}
