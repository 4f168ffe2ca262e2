// The release inputs (`releases`, `release-name`, `keep-releases`, `shared-paths`, `switch`,
// `rollback`), read into one ReleaseSettings, or undefined for an in-place deploy.

import { InputError } from '../errors.js'

export const SWITCH_MODES = ['together', 'per-host'] as const
export type SwitchMode = (typeof SWITCH_MODES)[number]

/** A path that lives once in `<target>/shared/` and is linked into every release. */
export interface SharedPath {
  /** Relative to a release (and to `shared/`), POSIX, without a trailing slash. */
  readonly path: string
  /** Given with a trailing `/`: a directory, made in `shared/` when missing. */
  readonly directory: boolean
}

export interface ReleaseSettings {
  /** The new release's directory name under `<target>/releases/` (for a rollback: unused). */
  readonly name: string
  /** Releases kept per host after a switch; 0 keeps all. */
  readonly keep: number
  readonly sharedPaths: readonly SharedPath[]
  readonly switchMode: SwitchMode
  /** Send nothing: point `current` back at the release before it. */
  readonly rollback: boolean
}

const RELEASE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/

/** A release name is one safe path segment: letters, digits, `.`, `_`, `-`, not hidden. */
export function checkReleaseName(name: string): string {
  if (!RELEASE_NAME.test(name))
    throw new InputError(
      'release-name',
      `'${name}' is not a release name: use 1-128 letters, digits, '.', '_' or '-', not starting with '.' or '-'`
    )
  return name
}

/** `<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>`, else the time in UTC as `YYYYMMDDTHHMMSSZ`. */
export function defaultReleaseName(
  variables: Readonly<Record<string, string | undefined>>,
  now: Date
): string {
  const run = variables.GITHUB_RUN_ID
  if (run !== undefined && /^\d+$/.test(run))
    return `${run}-${/^\d+$/.test(variables.GITHUB_RUN_ATTEMPT ?? '') ? variables.GITHUB_RUN_ATTEMPT : '1'}`
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
}

/** One path per line; `#` comments and blank lines skipped; a trailing `/` marks a directory. */
export function parseSharedPaths(text: string): SharedPath[] {
  const seen = new Set<string>()
  const paths: SharedPath[] = []
  for (const line of text.split('\n')) {
    const entry = line.trim()
    if (entry === '' || entry.startsWith('#')) continue
    const directory = entry.endsWith('/')
    const path = entry.replace(/\/+$/, '').replace(/^\.\//, '')
    const segments = path.split('/')
    if (
      path === '' ||
      entry.startsWith('/') ||
      entry.includes('\\') ||
      entry.includes('\0') ||
      segments.some((segment) => segment === '' || segment === '.' || segment === '..')
    )
      throw new InputError(
        'shared-paths',
        `'${entry}' must be a path relative to a release, without '.', '..', '\\' or empty segments`
      )
    if (seen.has(path)) throw new InputError('shared-paths', `'${path}' is given twice`)
    for (const other of seen)
      if (path.startsWith(`${other}/`) || other.startsWith(`${path}/`))
        throw new InputError('shared-paths', `'${path}' and '${other}' overlap: give one of them`)
    seen.add(path)
    paths.push({ path, directory })
  }
  return paths
}

/** Whether a file's path (relative to a release) is a shared path or inside one. */
export function isShared(sharedPaths: readonly SharedPath[], relativePath: string): boolean {
  return sharedPaths.some(
    (shared) => relativePath === shared.path || relativePath.startsWith(`${shared.path}/`)
  )
}
