// What the fake host reads of the action's remote commands: the single-quoted arguments of a
// command line, and a tar archive as transfer/tar.ts writes it.

import { posix } from 'node:path'

/** The single-quoted arguments of `text`, unquoted (`'\''` is a quote), in order. */
export function quotedArguments(text: string): string[] {
  return [...text.matchAll(/'((?:[^']|'\\'')*)'/g)].map((match) =>
    (match[1] ?? '').replaceAll(`'\\''`, `'`)
  )
}

/** The file system the archive is extracted into. */
export interface ExtractTarget {
  canonical(path: string, followLast: boolean): string
  mkdirs(path: string): void
  remove(path: string): void
  putFile(path: string, content: Buffer, mode: number): void
}

interface Entry {
  readonly path: string
  readonly content: Buffer
  readonly mode: number
}

function field(block: Buffer, offset: number, width: number): string {
  const text = block.subarray(offset, offset + width).toString('utf8')
  const end = text.indexOf('\0')
  return end < 0 ? text : text.slice(0, end)
}

/** The files of a ustar archive with pax `path` records. */
export function tarEntries(archive: Buffer): Entry[] {
  const entries: Entry[] = []
  let longName: string | undefined
  for (let at = 0; at + 512 <= archive.length;) {
    const block = archive.subarray(at, at + 512)
    if (block.every((byte) => byte === 0)) break
    const size = parseInt(field(block, 124, 12), 8)
    const type = field(block, 156, 1)
    const content = archive.subarray(at + 512, at + 512 + size)
    at += 512 + Math.ceil(size / 512) * 512
    if (type === 'x') {
      longName = /\d+ path=(.*)\n/s.exec(content.toString('utf8'))?.[1]
      continue
    }
    entries.push({
      path: longName ?? field(block, 0, 100),
      content: Buffer.from(content),
      mode: parseInt(field(block, 100, 8), 8)
    })
    longName = undefined
  }
  return entries
}

/** `tar -x` into a fresh `stage`, as tarCommand and tarIntoShellScript run it. */
export function extractTar(fs: ExtractTarget, stage: string, archive: Buffer): void {
  fs.remove(fs.canonical(stage, false))
  fs.mkdirs(stage)
  const root = fs.canonical(stage, true)
  for (const entry of tarEntries(archive)) {
    const path = posix.join(root, entry.path)
    fs.mkdirs(posix.dirname(path))
    fs.putFile(path, entry.content, entry.mode)
  }
}
