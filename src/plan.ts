// The plan: which local files go where. `source` globs are expanded once per run under
// `working-directory`; each match keeps its path relative to that directory, minus
// `strip-components` leading segments, below `target`.

import * as glob from '@actions/glob'
import { statSync, type Stats } from 'node:fs'
import { isAbsolute, relative, resolve } from 'node:path'
import { InputError, localFileError } from './errors.js'
import { joinRemote, toPosixSegments } from './remote-path.js'

export interface PlannedFile {
  /** Absolute local path. */
  readonly localPath: string
  /** POSIX path relative to `target`, after `strip-components`. */
  readonly relativePath: string
  /** Remote path: `target` joined with `relativePath`. */
  readonly remotePath: string
  readonly size: number
  /** Permission bits of the local file, applied to the new remote file. */
  readonly mode: number
}

export interface Plan {
  readonly files: readonly PlannedFile[]
  readonly totalBytes: number
}

export interface PlanOptions {
  readonly patterns: readonly string[]
  /** Absolute. */
  readonly workingDirectory: string
  readonly target: string
  readonly stripComponents: number
  readonly followSymbolicLinks: boolean
}

// @actions/glob reads patterns relative to the process's directory; patterns here are relative
// to `working-directory`, so its path is prefixed, with its own glob characters made literal.
function escapeGlob(path: string): string {
  return path.replace(/[*?[\]]/g, (ch) => `[${ch}]`)
}

export function anchorPattern(pattern: string, base: string): string | undefined {
  const line = pattern.trim()
  if (line === '' || line.startsWith('#')) return undefined
  const negated = line.startsWith('!')
  const body = negated ? line.slice(1).trim() : line
  const anchored = isAbsolute(body) ? body : `${escapeGlob(base)}/${body}`
  return negated ? `!${anchored}` : anchored
}

/** Maps a local match to its place under `target`. Throws the error a user should see. */
export function mapFile(
  localPath: string,
  options: Pick<PlanOptions, 'workingDirectory' | 'target' | 'stripComponents'>
): { relativePath: string; remotePath: string } {
  const rel = relative(options.workingDirectory, localPath)
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
    throw new InputError(
      'source',
      `'${localPath}' is outside working-directory '${options.workingDirectory}'; every file must be below it`
    )
  const segments = toPosixSegments(rel)
  if (segments.length <= options.stripComponents)
    throw new InputError(
      'strip-components',
      `${options.stripComponents} would remove the whole path of '${segments.join('/')}' (it has ${segments.length} component${segments.length === 1 ? '' : 's'})`
    )
  const relativePath = segments.slice(options.stripComponents).join('/')
  return { relativePath, remotePath: joinRemote(options.target, relativePath) }
}

export async function buildPlan(options: PlanOptions): Promise<Plan> {
  const anchored = options.patterns
    .map((pattern) => anchorPattern(pattern, options.workingDirectory))
    .filter((pattern): pattern is string => pattern !== undefined)
  if (anchored.length === 0 || anchored.every((pattern) => pattern.startsWith('!')))
    throw new InputError('source', 'names no pattern to include')

  const globber = await glob.create(anchored.join('\n'), {
    followSymbolicLinks: options.followSymbolicLinks,
    implicitDescendants: true,
    matchDirectories: false,
    omitBrokenSymbolicLinks: false
  })
  const matches = await globber.glob()

  const byRemote = new Map<string, string>()
  const mapped = matches.sort().map((localPath) => {
    const { relativePath, remotePath } = mapFile(resolve(localPath), options)
    const clash = byRemote.get(remotePath)
    if (clash !== undefined)
      throw new InputError(
        'strip-components',
        `'${clash}' and '${localPath}' would both land at '${remotePath}'`
      )
    byRemote.set(remotePath, localPath)
    return { localPath, relativePath, remotePath }
  })
  // One synchronous stat per file: through the thread pool, one promise each, thousands of them
  // cost more than the stats themselves.
  const infos = mapped.map(({ localPath }): Stats => {
    try {
      return statSync(localPath)
    } catch (error) {
      throw localFileError(localPath, error)
    }
  })
  const files: PlannedFile[] = []
  mapped.forEach((entry, index) => {
    const info = infos[index]
    if (info?.isFile() !== true) return
    files.push({ ...entry, size: info.size, mode: info.mode & 0o777 })
  })
  return { files, totalBytes: files.reduce((sum, file) => sum + file.size, 0) }
}
