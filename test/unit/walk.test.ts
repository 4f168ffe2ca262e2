import * as glob from '@actions/glob'
import { lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, test } from 'vitest'
import { anchorPattern } from '../../src/local/plan.js'
import { literalRoots, walkLiteral } from '../../src/local/walk.js'
import { tempDir } from '../harness/temp.js'

/** A tree with what a walk can trip on: hidden entries, links to files and directories, a cycle. */
function tree(): string {
  const root = tempDir('walk')
  const files: Record<string, string> = {
    'dist/index.html': '<html>',
    'dist/.htaccess': 'deny',
    'dist/.well-known/security.txt': 'sec',
    'dist/js/app.js': 'js',
    'dist/js/app.js.map': 'map',
    'dist/a b/c [d].txt': 'odd',
    'dist/empty/.keep': '',
    'other/y.txt': 'y',
    'top.txt': 'top',
    'single/file.bin': 'bin'
  }
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    writeFileSync(join(root, path), content)
  }
  symlinkSync(join(root, 'other/y.txt'), join(root, 'dist/link-to-file.txt'))
  symlinkSync(join(root, 'other'), join(root, 'dist/link-to-dir'))
  // A cycle: dist/js/up -> dist
  symlinkSync(join(root, 'dist'), join(root, 'dist/js/up'))
  return root
}

/**
 * What @actions/glob matches, as the plan takes it: regular files (links followed), or where
 * links are not followed, regular files and links; relative.
 */
async function byActionsGlob(root: string, patterns: string[], follow: boolean): Promise<string[]> {
  const anchored = patterns.map((pattern) => anchorPattern(pattern, root) as string)
  const globber = await glob.create(anchored.join('\n'), {
    followSymbolicLinks: follow,
    implicitDescendants: true,
    matchDirectories: false,
    omitBrokenSymbolicLinks: false
  })
  return (await globber.glob())
    .filter((path) => {
      const stats = follow ? statSync(path) : lstatSync(path)
      return stats.isFile() || stats.isSymbolicLink()
    })
    .map((path) => relative(root, path))
    .sort()
}

function byWalk(root: string, patterns: string[], follow: boolean): string[] | undefined {
  const roots = literalRoots(patterns)
  if (roots === undefined) throw new Error(`not literal: ${patterns.join(', ')}`)
  return walkLiteral(root, roots, follow)
    ?.map((file) => {
      expect(file.localPath).toBe(join(root, file.relativePath))
      expect(file.stats.size).toBe(
        (follow ? statSync(file.localPath) : lstatSync(file.localPath)).size
      )
      return file.relativePath
    })
    .sort()
}

describe('the literal walk behind the common source patterns', () => {
  test('takes only `**` and plain paths, none negated', () => {
    expect(literalRoots(['**'])).toEqual([{ path: '', globstar: true }])
    expect(literalRoots(['dist/**', '# note', '', 'top.txt'])).toEqual([
      { path: 'dist', globstar: true },
      { path: 'top.txt', globstar: false }
    ])
    for (const needsGlob of [
      ['**/*.js'],
      ['dist/*'],
      ['dist/**', '!**/*.map'],
      ['dist/[ab]'],
      ['dist/a?'],
      ['/abs/path'],
      ['./dist'],
      ['dist/../other'],
      ['dist/'],
      ['dist//js'],
      ['dist\\js'],
      ['# only a comment']
    ])
      expect(literalRoots(needsGlob), needsGlob.join(', ')).toBeUndefined()
  })

  const cases: string[][] = [
    ['**'],
    ['dist'],
    ['dist/**'],
    ['dist/js', 'dist/js/app.js'],
    ['dist', 'dist/**', 'top.txt'],
    ['top.txt'],
    ['dist/a b'],
    ['dist/link-to-dir'],
    ['dist/link-to-file.txt'],
    ['missing', 'other'],
    ['missing/**']
  ]
  for (const follow of [true, false])
    for (const patterns of cases)
      test(`${patterns.join(', ')} (follow-symbolic-links ${follow}): as @actions/glob`, async () => {
        const root = tree()
        const expected = await byActionsGlob(root, patterns, follow)
        expect(byWalk(root, patterns, follow)).toEqual(expected)
      })

  for (const follow of [true, false])
    test(`a working directory that is a link (follow-symbolic-links ${follow}): as @actions/glob`, async () => {
      const root = tree()
      const link = join(tempDir('walk-link'), 'link')
      symlinkSync(root, link)
      for (const patterns of [['**'], ['dist']]) {
        const expected = await byActionsGlob(link, patterns, follow)
        expect(byWalk(link, patterns, follow), patterns.join(', ')).toEqual(expected)
      }
    })

  test('the walk found what these cases are about', () => {
    const root = tree()
    const all = byWalk(root, ['**'], true) ?? []
    expect(all).toContain('dist/.well-known/security.txt')
    expect(all).toContain('dist/a b/c [d].txt')
    expect(all).toContain('dist/link-to-dir/y.txt')
    expect(all).toContain('dist/link-to-file.txt')
    // The cycle is walked once: dist/js/up is dist itself.
    expect(all.filter((path) => path.endsWith('app.js'))).toEqual(['dist/js/app.js'])
    const unfollowed = byWalk(root, ['**'], false) ?? []
    expect(unfollowed).not.toContain('dist/link-to-dir/y.txt')
    // Not followed, a link is matched as itself, whatever it points to: it is sent as a link.
    expect(unfollowed).toContain('dist/link-to-file.txt')
    expect(unfollowed).toContain('dist/link-to-dir')
  })

  test('`path/**` where path is a file is left to @actions/glob', () => {
    const root = tree()
    expect(walkLiteral(root, [{ path: 'top.txt', globstar: true }], true)).toBeUndefined()
    expect(byWalk(root, ['top.txt'], true)).toEqual(['top.txt'])
  })

  test('a broken link fails the walk as it fails @actions/glob', async () => {
    const root = tree()
    symlinkSync(join(root, 'nowhere'), join(root, 'dist/broken'))
    const message = /No information found for the path '.*dist\/broken'/
    await expect(byActionsGlob(root, ['dist'], true)).rejects.toThrow(message)
    expect(() => byWalk(root, ['dist'], true)).toThrow(message)
    // Not followed, it is a link like any other, sent as a link.
    expect(byWalk(root, ['dist'], false)).toContain('dist/broken')
  })
})
