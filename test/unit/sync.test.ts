// What `delete` removes, what `keep` keeps, and the removal script run by a real /bin/sh.

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { keepRules, parseKeep } from '../../src/config/keep.js'
import { findExtraneous } from '../../src/deploy/sync.js'
import type { PlannedFile } from '../../src/local/plan.js'
import { removalScript } from '../../src/remote/removal.js'
import type { TreeEntry } from '../../src/remote/tree.js'
import { tempDir } from '../harness/temp.js'

const planned = (...paths: string[]): PlannedFile[] =>
  paths.map((relativePath) => ({
    localPath: `/ws/${relativePath}`,
    relativePath,
    size: 1,
    mode: 0o644,
    identity: { size: 1, mtimeMs: 0, ctimeMs: 0, ino: 0 }
  }))

const tree = (entries: Record<string, TreeEntry['kind']>): TreeEntry[] =>
  Object.entries(entries).map(([path, kind]) => ({ path, kind }))

describe('what delete removes', () => {
  test('files and links the plan does not have; directories with nothing of the plan, deepest first', () => {
    const found = findExtraneous(
      tree({
        'index.html': 'file',
        old: 'directory',
        'old/a.txt': 'file',
        'old/deep': 'directory',
        'old/deep/b.txt': 'file',
        assets: 'directory',
        'assets/app.js': 'file',
        'assets/stale.js': 'file',
        'link-out': 'link',
        empty: 'directory',
        fifo: 'other'
      }),
      planned('index.html', 'assets/app.js'),
      []
    )
    expect([...found.files].sort()).toEqual([
      'assets/stale.js',
      'fifo',
      'link-out',
      'old/a.txt',
      'old/deep/b.txt'
    ])
    expect(found.directories).toEqual(['old/deep', 'empty', 'old'])
  })

  test('keep: a matching path, everything in a matching directory, and the directories that hold what is kept', () => {
    const found = findExtraneous(
      tree({
        '.env': 'file',
        uploads: 'directory',
        'uploads/2024': 'directory',
        'uploads/2024/a.png': 'file',
        cache: 'directory',
        'cache/x': 'file',
        logs: 'directory',
        'logs/app.log': 'file',
        'logs/app.txt': 'file',
        'gone.txt': 'file'
      }),
      planned('index.html'),
      ['.env', 'uploads/**', 'cache', '**/*.log']
    )
    expect([...found.files].sort()).toEqual(['gone.txt', 'logs/app.txt'])
    expect(found.directories).toEqual([])
  })

  test("the action's own working names are never removed, whoever left them", () => {
    const found = findExtraneous(
      tree({
        '.index.html.0123456789ab.sfd-tmp': 'file',
        'a/.b.txt.abcdef012345.sfd-tmp': 'file',
        a: 'directory',
        '.sfd-stage-x-1': 'directory',
        '.sfd-stage-x-1/f': 'file',
        '.sfd-preflight-x-1': 'file',
        '.index.html.not-hex.sfd-tmp': 'file'
      }),
      planned('a/b.txt'),
      []
    )
    expect(found.files).toEqual(['.index.html.not-hex.sfd-tmp'])
    expect(found.directories).toEqual([])
  })

  test('keep patterns stay inside target', () => {
    expect(parseKeep('uploads/**\n# note\n\n.env\n')).toEqual(['uploads/**', '.env'])
    for (const bad of ['/etc/passwd', '../x', 'a/../../b', '!uploads'])
      expect(() => parseKeep(bad), bad).toThrow(/Input 'keep': /)
    const rules = keepRules(['uploads/**'])
    expect(rules.keepsDirectory('uploads')).toBe(true)
    expect(rules.keepsFile('uploads/.hidden')).toBe(true)
    expect(rules.keepsFile('other/uploads')).toBe(false)
  })
})

describe('the removal script', () => {
  test('removes the files (links as links) and the emptied directories, nothing else', () => {
    const dir = tempDir('removal')
    const outside = join(tempDir('outside'), 'precious.txt')
    writeFileSync(outside, 'keep me')
    mkdirSync(join(dir, 't/-rf/deep'), { recursive: true })
    mkdirSync(join(dir, 't/busy'), { recursive: true })
    writeFileSync(join(dir, 't/-rf/deep/a'), 'a')
    writeFileSync(join(dir, "t/it's $(x)"), 'b')
    writeFileSync(join(dir, 't/busy/stays'), 's')
    symlinkSync(outside, join(dir, 't/link'))
    const files = ['-rf/deep/a', "it's $(x)", 'link'].map((path) => join(dir, 't', path))
    const directories = ['-rf/deep', '-rf', 'busy'].map((path) => join(dir, 't', path))
    execFileSync('/bin/sh', ['-s'], { input: removalScript(files, directories) })
    for (const path of [...files, join(dir, 't/-rf')]) expect(existsSync(path), path).toBe(false)
    // Not empty: stays. What the link pointed to: untouched.
    expect(readFileSync(join(dir, 't/busy/stays'), 'utf8')).toBe('s')
    expect(readFileSync(outside, 'utf8')).toBe('keep me')
  })

  test('a file that cannot be removed makes the script fail', () => {
    const dir = tempDir('removal')
    mkdirSync(join(dir, 'd'))
    let failed = false
    try {
      // A directory given as a file: rm -f refuses it.
      execFileSync('/bin/sh', ['-s'], { input: removalScript([join(dir, 'd')], []), stdio: 'pipe' })
    } catch {
      failed = true
    }
    expect(failed).toBe(true)
  })

  test('thousands of paths go in a few lines', () => {
    const script = removalScript(
      Array.from({ length: 1000 }, (_, index) => `/t/f${index}`),
      []
    )
    expect(script.split('\n').filter((line) => line.startsWith('rm -f '))).toHaveLength(5)
  })
})
