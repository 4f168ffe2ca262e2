import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { anchorPattern, buildPlan, mapFile } from '../../src/local/plan.js'
import { tempDir } from '../harness/temp.js'

function tree(files: Record<string, string>): string {
  const root = tempDir('plan')
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    writeFileSync(join(root, path), content)
  }
  return root
}

const options = (workingDirectory: string, overrides = {}) => ({
  workingDirectory,
  stripComponents: 0,
  followSymbolicLinks: true,
  ...overrides
})

describe('the plan: which local files land where', () => {
  test('paths relative to working-directory, under target', () => {
    expect(mapFile('/ws/dist/a/b.js', options('/ws'))).toBe('dist/a/b.js')
    expect(mapFile('/ws/dist/a/b.js', options('/ws', { stripComponents: 1 }))).toBe('a/b.js')
  })

  test('a match outside working-directory is refused', () => {
    expect(() => mapFile('/elsewhere/x', options('/ws'))).toThrow(
      /Input 'source'.*outside working-directory/
    )
  })

  test('strip-components that would remove a whole path is refused', () => {
    expect(() => mapFile('/ws/a/b', options('/ws', { stripComponents: 2 }))).toThrow(
      /Input 'strip-components': 2 would remove the whole path of 'a\/b'/
    )
  })

  test('patterns are anchored at working-directory, its glob characters made literal', () => {
    expect(anchorPattern('dist/**', '/w [1]')).toBe('/w [[]1[]]/dist/**')
    expect(anchorPattern('!**/*.map', '/w')).toBe('!/w/**/*.map')
    expect(anchorPattern('# note', '/w')).toBeUndefined()
  })

  test('globs, excludes, hidden files; directories are not files', async () => {
    const root = tree({
      'dist/index.html': '<html>',
      'dist/app.js': 'js',
      'dist/app.js.map': 'map',
      'dist/.htaccess': 'deny',
      'dist/.well-known/security.txt': 'sec',
      'dist/sub/deep/x.txt': 'x',
      'other/y.txt': 'y'
    })
    const plan = await buildPlan({ ...options(root), patterns: ['dist/**', '!**/*.map'] })
    expect(plan.files.map((file) => file.relativePath)).toEqual([
      'dist/.htaccess',
      'dist/.well-known/security.txt',
      'dist/app.js',
      'dist/index.html',
      'dist/sub/deep/x.txt'
    ])
    expect(plan.totalBytes).toBe(6 + 2 + 3 + 4 + 1)
  })

  test('a directory pattern takes what is below it', async () => {
    const root = tree({ 'site/a.txt': 'a', 'site/b/c.txt': 'c' })
    const plan = await buildPlan({ ...options(root, { stripComponents: 1 }), patterns: ['site'] })
    expect(plan.files.map((file) => file.relativePath)).toEqual(['a.txt', 'b/c.txt'])
  })

  test('two files that would land on one path are refused', async () => {
    const root = tree({ 'a/x.txt': '1', 'b/x.txt': '2' })
    await expect(
      buildPlan({ ...options(root, { stripComponents: 1 }), patterns: ['**'] })
    ).rejects.toThrow(/would both land at 'x.txt' under target/)
  })

  test('follow-symbolic-links: a linked file is sent as its content', async () => {
    const root = tree({ 'real/file.txt': 'content' })
    mkdirSync(join(root, 'site'))
    symlinkSync(join(root, 'real/file.txt'), join(root, 'site/link.txt'))
    const plan = await buildPlan({ ...options(root), patterns: ['site/**'] })
    expect(plan.files).toHaveLength(1)
    expect(plan.files[0]).toMatchObject({ relativePath: 'site/link.txt', size: 7 })
  })

  test('no match gives an empty plan', async () => {
    const root = tree({ 'a.txt': 'a' })
    const plan = await buildPlan({ ...options(root), patterns: ['nothing/**'] })
    expect(plan.files).toEqual([])
  })

  test("names are bytes: `...`, `..x` and backslashes are ordinary, '..' alone climbs", async () => {
    const names = ['...', '..x', '\\', 'x\\..\\..\\ESCAPED.txt', 'back\\slash\\n', '-out']
    const root = tree(Object.fromEntries(names.map((name) => [`site/${name}`, name])))
    for (const patterns of [['**'], ['**', '!**/*.map']]) {
      const plan = await buildPlan({ ...options(join(root, 'site')), patterns })
      expect(plan.files.map((file) => file.relativePath).sort(), patterns.join(', ')).toEqual(
        [...names].sort()
      )
    }
    expect(() => mapFile('/ws/../x', options('/ws'))).toThrow(/outside working-directory/)
    expect(mapFile('/ws/...', options('/ws'))).toBe('...')
  })

  test('a name that is not UTF-8 is refused before anything else, named with its bytes escaped', async () => {
    const root = tree({ 'site/good.txt': 'good' })
    writeFileSync(
      Buffer.concat([Buffer.from(`${root}/site/bad`), Buffer.from([0xff]), Buffer.from('.txt')]),
      'x'
    )
    for (const [patterns, follow] of [
      [['**'], true],
      [['**'], false],
      [['**', '!*.map'], true]
    ] as const)
      await expect(
        buildPlan({ ...options(root, { followSymbolicLinks: follow }), patterns: [...patterns] })
      ).rejects.toThrow(
        /Input 'source': '.*\/site\/bad\\xff\.txt' has a name that is not valid UTF-8/
      )
  })

  test('follow-symbolic-links: false plans a link as a link, with its target text', async () => {
    const root = tree({ 'site/real.txt': 'real', 'outside.txt': 'outside' })
    symlinkSync('../outside.txt', join(root, 'site/link.txt'))
    symlinkSync('/nowhere/at/all', join(root, 'site/dangling'))
    for (const patterns of [['**'], ['**', '!*.map']]) {
      const plan = await buildPlan({
        ...options(join(root, 'site'), { followSymbolicLinks: false }),
        patterns
      })
      expect(
        plan.files.map(({ relativePath, linkTarget }) => ({ relativePath, linkTarget }))
      ).toEqual([
        { relativePath: 'dangling', linkTarget: '/nowhere/at/all' },
        { relativePath: 'link.txt', linkTarget: '../outside.txt' },
        { relativePath: 'real.txt', linkTarget: undefined }
      ])
    }
  })
})
