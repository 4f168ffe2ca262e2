// A host's files as the test sees them on its file system (the hosts run on this machine):
// planted before a run, and snapshotted as lstat sees them (links as links, never followed),
// so that two snapshots show whether a run wrote, made, removed or renamed anything. A file made
// and removed again still shows: its directory's mtime changed.

import { createHash } from 'node:crypto'
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { dirname, join, relative } from 'node:path'

/** What plant makes at a path: a file with this content, a directory, or a symbolic link. */
export type Planted = string | Buffer | { readonly dir: true } | { readonly link: string }

/** Makes `tree` (relative path → what is there) under `root`, parents as needed. */
export function plant(root: string, tree: Record<string, Planted>): void {
  for (const [path, what] of Object.entries(tree)) {
    const full = join(root, path)
    if (typeof what === 'object' && 'dir' in what) {
      mkdirSync(full, { recursive: true })
      continue
    }
    mkdirSync(dirname(full), { recursive: true })
    if (typeof what === 'object' && 'link' in what) symlinkSync(what.link, full)
    else writeFileSync(full, what)
  }
}

export interface EntrySnapshot {
  readonly kind: 'file' | 'directory' | 'link' | 'other'
  readonly mtimeMs: number
  readonly mode: number
  /** A file's SHA-256. */
  readonly sha256?: string
  /** A link's text. */
  readonly link?: string
}

/** Every entry below `dir` (not `dir` itself), by relative path, as lstat sees it. */
export function snapshot(dir: string): Record<string, EntrySnapshot> {
  const out: Record<string, EntrySnapshot> = {}
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      const path = join(current, name)
      const info = lstatSync(path)
      const common = { mtimeMs: info.mtimeMs, mode: info.mode }
      const key = relative(dir, path)
      if (info.isDirectory()) {
        out[key] = { kind: 'directory', ...common }
        walk(path)
      } else if (info.isSymbolicLink())
        out[key] = { kind: 'link', ...common, link: readlinkSync(path) }
      else if (info.isFile())
        out[key] = {
          kind: 'file',
          ...common,
          sha256: createHash('sha256').update(readFileSync(path)).digest('hex')
        }
      else out[key] = { kind: 'other', ...common }
    }
  }
  walk(dir)
  return out
}

/** The directory's own mtime and the snapshot below it: a file made in it and removed shows. */
export function snapshotWithRoot(dir: string): Record<string, EntrySnapshot> {
  const info = lstatSync(dir)
  return {
    '.': { kind: 'directory', mtimeMs: info.mtimeMs, mode: info.mode },
    ...snapshot(dir)
  }
}

/** The relative paths of one kind in a snapshot, sorted. */
export function pathsOfKind(
  tree: Record<string, EntrySnapshot>,
  kind: EntrySnapshot['kind']
): string[] {
  return Object.entries(tree)
    .filter(([, entry]) => entry.kind === kind)
    .map(([path]) => path)
    .sort()
}

/**
 * The action's working names below `dir` (temporary files, staging directories, preflight
 * probes, anything `.sfd-`): there must be none once a run is over.
 */
export function workingNames(dir: string): string[] {
  return Object.keys(snapshot(dir)).filter((path) => path.includes('.sfd-'))
}

/**
 * Every entry below `dir` in a few words, for comparing what is there without the times:
 * `file <sha256>`, `link -> <text>`, `directory`, `other`.
 */
export function shapeOf(dir: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(snapshot(dir)).map(([path, entry]) => [
      path,
      entry.kind === 'file'
        ? `file ${entry.sha256 ?? ''}`
        : entry.kind === 'link'
          ? `link -> ${entry.link ?? ''}`
          : entry.kind
    ])
  )
}
