import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tarCommand } from '../../src/remote/tar-extract.js'
import { endOfArchive, entryHeader, paddingSize } from '../../src/transfer/tar.js'
import { sha256, treeDigest } from '../harness/run-action.js'
import { tempDir } from '../harness/temp.js'

function archive(
  files: Record<string, { content: string; mode?: number }>,
  directories: string[] = []
): Buffer {
  const parts: Buffer[] = []
  for (const path of directories)
    parts.push(entryHeader({ path, type: 'directory', mode: 0o755, size: 0, mtime: 0 }))
  for (const [path, { content, mode }] of Object.entries(files)) {
    const data = Buffer.from(content)
    parts.push(
      entryHeader({
        path,
        type: 'file',
        mode: mode ?? 0o644,
        size: data.length,
        mtime: 1_700_000_000
      })
    )
    parts.push(data, Buffer.alloc(paddingSize(data.length)))
  }
  parts.push(endOfArchive())
  return Buffer.concat(parts)
}

describe('tar writer, read back by the real tar', () => {
  const files: Record<string, { content: string; mode?: number }> = {
    'plain.txt': { content: 'plain' },
    'dir/nested/deep.txt': { content: 'deep' },
    "with space/and $(x) `y` 'q'.txt": { content: 'odd' },
    'ünïcødé/日本語.txt': { content: 'unicode' },
    'new\nline.txt': { content: 'newline' },
    [`long/${'n'.repeat(150)}/${'m'.repeat(120)}.txt`]: { content: 'long path' },
    'empty.txt': { content: '' },
    'exactly-512.bin': { content: 'x'.repeat(512) },
    'bin/run.sh': { content: '#!/bin/sh\n', mode: 0o755 }
  }

  test('extracts every file with its bytes, path and mode', () => {
    const dir = tempDir('tar')
    execFileSync('tar', ['-x', '-o', '-m', '-f', '-', '-C', dir], {
      input: archive(files, ['dir', 'dir/nested'])
    })
    const expected: Record<string, string> = {}
    for (const [path, { content }] of Object.entries(files)) expected[path] = sha256(content)
    expect(treeDigest(dir)).toEqual(expected)
    expect(statSync(join(dir, 'bin/run.sh')).mode & 0o111).not.toBe(0)
  })

  test('lists cleanly: the checksum and pax records are valid', () => {
    const listing = execFileSync('tar', ['-t', '-f', '-'], { input: archive(files) }).toString()
    expect(listing).toContain(`long/${'n'.repeat(150)}`)
    expect(listing).toContain('ünïcødé/日本語.txt')
  })
})

describe('the command a tar stream goes to', () => {
  const root = tempDir('tarcmd')
  const stage = join(root, 'target $(touch pwned)', '.sfd-stage-x')
  const run = (input: Buffer): number => {
    try {
      execFileSync('/bin/sh', ['-c', tarCommand(stage)], { cwd: root, input, stdio: 'pipe' })
      return 0
    } catch (error) {
      return (error as { status: number }).status
    }
  }

  test('given no stream (or told to stop), it creates nothing', () => {
    expect(run(Buffer.from('stop\n'))).toBe(3)
    expect(run(Buffer.alloc(0))).toBe(3)
    expect(existsSync(join(root, 'target $(touch pwned)'))).toBe(false)
    expect(existsSync(join(root, 'pwned'))).toBe(false)
  })

  test('told to go, it extracts the stream that follows into a fresh staging directory', () => {
    const files = { 'a.txt': { content: 'alpha' }, 'd/b.txt': { content: 'beta' } }
    expect(run(Buffer.concat([Buffer.from('go\n'), archive(files, ['d'])]))).toBe(0)
    expect(treeDigest(stage)).toEqual({ 'a.txt': sha256('alpha'), 'd/b.txt': sha256('beta') })
    // Again: what an earlier attempt left there is replaced, not merged.
    expect(run(Buffer.concat([Buffer.from('go\n'), archive({ 'c.txt': { content: 'c' } })]))).toBe(
      0
    )
    expect(treeDigest(stage)).toEqual({ 'c.txt': sha256('c') })
    expect(existsSync(join(root, 'pwned'))).toBe(false)
  })
})
