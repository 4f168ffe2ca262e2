import { describe, expect, test } from 'vitest'
import { normalizeTarget } from '../../src/config/target.js'
import { posix } from 'node:path'
import { stagingPath } from '../../src/transfer/staged-publish.js'
import {
  checkUnderTarget,
  isWorkingName,
  joinRemote,
  temporaryPath,
  toPosixSegments
} from '../../src/remote/paths.js'

describe('remote paths', () => {
  test('a file joins its target as posix.join would, whatever shape the target has', () => {
    const targets = [
      '/srv/www',
      '/srv/www/',
      '/',
      '.',
      './',
      'www',
      'www//a/./b/',
      '~/x',
      '../up',
      'a/..'
    ]
    for (const target of targets)
      for (const relative of ['index.html', 'a/b/c.js', '.htaccess', '..x/y', ''])
        expect(joinRemote(target, relative), `${target} + ${relative}`).toBe(
          posix.join(target, relative)
        )
  })

  test.each([
    ['/srv/www/', '/srv/www'],
    ['/', '/'],
    ['site', 'site'],
    ['site//', 'site'],
    ['~', '.'],
    ['~/', '.'],
    ['~/app/current', 'app/current'],
    ['./a/../b', 'b'],
    ['dir with space/$(x)', 'dir with space/$(x)']
  ])('target %j is %j', (input, expected) => {
    expect(normalizeTarget(input)).toBe(expected)
  })

  test("local paths split on the runner's own separators only", () => {
    // Windows: both separators.
    expect(toPosixSegments('dist\\assets/app.js', '\\')).toEqual(['dist', 'assets', 'app.js'])
    // Linux and macOS: a backslash is a character of a name, never a separator.
    expect(toPosixSegments('dist\\assets/app.js', '/')).toEqual(['dist\\assets', 'app.js'])
    expect(toPosixSegments('x\\..\\..\\ESCAPED.txt', '/')).toEqual(['x\\..\\..\\ESCAPED.txt'])
    expect(toPosixSegments('./a//b/', '/')).toEqual(['a', 'b'])
  })

  test('every remote path stays below target: no empty, `.` or `..` segment, no NUL', () => {
    for (const good of ['a', '...', '..x', 'x\\..\\..', 'a/b/c', '-out', '\\'])
      expect(() => checkUnderTarget(good, good), good).not.toThrow()
    for (const bad of ['', '..', '../x', 'a/../../x', 'a//b', './a', '/etc/passwd', 'a/.', 'a\0b'])
      expect(() => checkUnderTarget(bad, `/ws/${bad}`), JSON.stringify(bad)).toThrow(
        /Input 'source': .* which is not a path below target/
      )
  })

  test('temporary names: beside the final path, hidden, deterministic per run and file', () => {
    const a = temporaryPath('/srv/www/index.html', 'run1')
    expect(a.startsWith('/srv/www/.index.html.')).toBe(true)
    expect(a.split('/').pop()).toMatch(/^\.index\.html\.[0-9a-f]{12}\.sfd-tmp$/)
    expect(temporaryPath('/srv/www/index.html', 'run1')).toBe(a)
    expect(temporaryPath('/srv/www/index.html', 'run2')).not.toBe(a)
    expect(temporaryPath('/srv/www/other.html', 'run1')).not.toBe(a)
    expect(temporaryPath('plain.txt', 'r')).toMatch(/^\.plain\.txt\.[0-9a-f]{12}\.sfd-tmp$/)
  })

  test('a long (multi-byte) name still gives a temporary name within 255 bytes', () => {
    const long = 'é'.repeat(127) // 254 bytes
    const temp = temporaryPath(`/x/${long}`, 'run')
    const name = temp.split('/').pop() ?? ''
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255)
    expect(name.includes('\uFFFD')).toBe(false)
    expect(name).toMatch(/^\..*\.[0-9a-f]{12}\.sfd-tmp$/)
  })
})

describe('the working names a sync leaves alone', () => {
  test('the names the action makes, and what is inside them, are working names', () => {
    const temporary = temporaryPath('docs/index.html', 'run1')
    expect(isWorkingName(temporary)).toBe(true)
    expect(isWorkingName(posix.basename(temporaryPath('a.txt', 'other-run')))).toBe(true)
    const staging = posix.basename(stagingPath('/srv/www', 'abc123'))
    expect(isWorkingName(staging)).toBe(true)
    expect(isWorkingName(`${staging}/css/site.css`)).toBe(true)
    expect(isWorkingName('sub/.sfd-preflight-abc123')).toBe(true)
  })

  test('files of a site that only look alike are not', () => {
    for (const path of [
      'index.html',
      'notes.sfd-tmp',
      '.index.html.sfd-tmp',
      '.index.html.0123456789ab.sfd-tmp.bak',
      'sfd-stage-1/x',
      'docs/.sfd-stagex',
      '.sfd-preflight'
    ])
      expect(isWorkingName(path), path).toBe(false)
  })
})
