// The plan's path handling with a Windows runner's rules (path.win32), run on any machine: drive
// letters, UNC shares, `\` and `/` both separating, names compared without case. Remote paths are
// POSIX whatever the runner. Beside them, the same inputs with Linux rules (path.posix), where
// `\` is an ordinary character of a name and must never be read as a separator.
import { posix, win32 } from 'node:path'
import { describe, expect, test } from 'vitest'
import { anchorPattern, mapFile, placeOf } from '../../src/local/plan.js'
import { literalRoots } from '../../src/local/walk.js'
import { remoteJoiner } from '../../src/remote/paths.js'

const options = (workingDirectory: string, stripComponents = 0) => ({
  workingDirectory,
  stripComponents
})

/** Each match's remote path under `/srv/www`, planned with `path`'s rules. */
function remotePaths(
  workingDirectory: string,
  matches: readonly string[],
  path: typeof win32,
  stripComponents = 0
): string[] {
  const join = remoteJoiner('/srv/www')
  return matches.map((localPath) =>
    join(placeOf({ localPath }, options(workingDirectory, stripComponents), path))
  )
}

const OUTSIDE = /Input 'source': '.*' is outside working-directory/

describe('a Windows runner: local paths mapped to POSIX remote paths', () => {
  test('backslashes and drive letters: each file lands at its POSIX path under target', () => {
    expect(
      remotePaths(
        'C:\\a\\work\\site',
        [
          'C:\\a\\work\\site\\index.html',
          'C:\\a\\work\\site\\dist\\js\\app.js',
          'C:\\a\\work\\site\\.well-known\\security.txt'
        ],
        win32
      )
    ).toEqual([
      '/srv/www/index.html',
      '/srv/www/dist/js/app.js',
      '/srv/www/.well-known/security.txt'
    ])
  })

  test('a working-directory written with forward slashes (D:/build), matches with either', () => {
    expect(
      remotePaths(
        'D:/build',
        ['D:\\build\\assets\\logo.png', 'D:/build/assets/app.css', 'D:\\build/js\\x/y.js'],
        win32
      )
    ).toEqual(['/srv/www/assets/logo.png', '/srv/www/assets/app.css', '/srv/www/js/x/y.js'])
  })

  test('drive letters and names compare without case, and keep the case the match has', () => {
    expect(
      remotePaths('C:\\a\\Work\\site', ['c:\\A\\work\\SITE\\Docs\\Index.HTML'], win32)
    ).toEqual(['/srv/www/Docs/Index.HTML'])
  })

  test('strip-components counts segments split by either separator', () => {
    expect(
      remotePaths('C:\\w', ['C:\\w\\build\\out/site\\a.txt', 'C:\\w\\build/out\\b.txt'], win32, 2)
    ).toEqual(['/srv/www/site/a.txt', '/srv/www/b.txt'])
    expect(() => mapFile('C:\\w\\build\\out', options('C:\\w', 2), win32)).toThrow(
      /Input 'strip-components': 2 would remove the whole path of 'build\/out'/
    )
  })

  test('a UNC share as working-directory', () => {
    expect(
      remotePaths('\\\\fileserver\\builds\\site', ['\\\\fileserver\\builds\\site\\a\\b.txt'], win32)
    ).toEqual(['/srv/www/a/b.txt'])
    expect(
      remotePaths('\\\\?\\C:\\a\\work\\site', ['\\\\?\\C:\\a\\work\\site\\long\\name.txt'], win32)
    ).toEqual(['/srv/www/long/name.txt'])
  })

  test('`...` and `..x` are ordinary names on Windows too', () => {
    expect(remotePaths('C:\\w', ['C:\\w\\...\\..x', 'C:\\w\\a..\\b'], win32)).toEqual([
      '/srv/www/.../..x',
      '/srv/www/a../b'
    ])
  })

  test.each([
    ['`..` that climbs out', 'C:\\a\\work\\site\\..\\secret.txt'],
    ['`..` deeper down that climbs out', 'C:\\a\\work\\site\\dist\\..\\..\\..\\Windows\\win.ini'],
    ['`..` with forward slashes', 'C:\\a\\work\\site/dist/../../x'],
    ['`..` with mixed separators', 'C:/a/work/site\\dist/..\\..\\x'],
    ['a sibling whose name starts like working-directory', 'C:\\a\\work\\site-old\\x.txt'],
    ['another drive', 'D:\\a\\work\\site\\x.txt'],
    ['another share', '\\\\fileserver\\other\\x.txt'],
    ['a device path to the same place', '\\\\?\\C:\\a\\work\\site\\x.txt'],
    ['working-directory itself', 'C:\\a\\work\\site'],
    ['working-directory itself, with a trailing separator', 'C:/a/work/site/']
  ])('a match outside working-directory is refused: %s', (_name, localPath) => {
    expect(() => placeOf({ localPath }, options('C:\\a\\work\\site'), win32)).toThrow(OUTSIDE)
  })

  test('no remote path has a backslash, a drive letter or a `..` segment', () => {
    const remote = remotePaths(
      'C:\\w',
      ['C:\\w\\a\\b\\c.txt', 'c:/w/d/./e.txt', 'C:\\w\\f\\g\\..\\h.txt', 'C:\\w\\\\i\\\\j.txt'],
      win32
    )
    expect(remote).toEqual([
      '/srv/www/a/b/c.txt',
      '/srv/www/d/e.txt',
      '/srv/www/f/h.txt',
      '/srv/www/i/j.txt'
    ])
    for (const path of remote) expect(path).not.toMatch(/\\|[A-Za-z]:|(^|\/)\.\.(\/|$)/)
  })

  test('patterns are anchored at a Windows working-directory; absolute ones are kept', () => {
    const base = 'C:\\a\\work\\site'
    expect(anchorPattern('dist\\**', base, win32)).toBe('C:\\a\\work\\site/dist\\**')
    expect(anchorPattern('!**\\*.map', base, win32)).toBe('!C:\\a\\work\\site/**\\*.map')
    expect(anchorPattern('D:\\shared\\**', base, win32)).toBe('D:\\shared\\**')
    expect(anchorPattern('\\\\fileserver\\builds\\**', base, win32)).toBe(
      '\\\\fileserver\\builds\\**'
    )
    expect(anchorPattern('dist/**', 'C:\\w [1]', win32)).toBe('C:\\w [[]1[]]/dist/**')
  })

  test('the literal walk is left to @actions/glob, which knows Windows separators and case', () => {
    expect(literalRoots(['**'], '\\')).toBeUndefined()
    expect(literalRoots(['dist'], '\\')).toBeUndefined()
    expect(literalRoots(['**'], '/')).toEqual([{ path: '', globstar: true }])
  })
})

describe('a Linux or macOS runner: a backslash is part of a name', () => {
  test('a name with backslashes is one file under target, never directories', () => {
    expect(
      remotePaths('/ws', ['/ws/x\\..\\..\\ESCAPED.txt', '/ws/dist\\js\\app.js', '/ws/a/\\'], posix)
    ).toEqual(['/srv/www/x\\..\\..\\ESCAPED.txt', '/srv/www/dist\\js\\app.js', '/srv/www/a/\\'])
  })

  test('a Windows-looking path is an ordinary relative name, and `C:` an ordinary segment', () => {
    expect(anchorPattern('C:\\x\\**', '/ws', posix)).toBe('/ws/C:\\x\\**')
    expect(remotePaths('/ws', ['/ws/C:\\Windows\\..\\..\\x'], posix)).toEqual([
      '/srv/www/C:\\Windows\\..\\..\\x'
    ])
  })

  test('`..` still climbs out with forward slashes and is refused', () => {
    expect(() => placeOf({ localPath: '/ws/a/../../etc/passwd' }, options('/ws'), posix)).toThrow(
      OUTSIDE
    )
  })
})
