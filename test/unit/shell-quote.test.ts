import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { shellCommand, shellQuote } from '../../src/remote/shell-quote.js'

// Each value goes through a real POSIX shell (/bin/sh, dash on Debian) and must come back
// byte for byte, having run nothing.
function roundTrip(values: readonly string[]): string[] {
  const script = `for a in ${shellCommand(values)}; do printf '%s\\0' "$a"; done`
  const out = execFileSync('/bin/sh', ['-c', script], { cwd: '/tmp' })
  return out.toString('utf8').split('\0').slice(0, -1)
}

const hostile = [
  'plain',
  'with space',
  "it's",
  "''",
  "'",
  '"double"',
  '$(touch /tmp/sfd-pwned)',
  '`touch /tmp/sfd-pwned`',
  '${HOME}',
  '$HOME',
  'a;b&&c||d|e',
  '*',
  '?',
  '[a-z]',
  '~',
  '~root',
  '-rf',
  '--',
  'line\nbreak',
  'tab\there',
  'back\\slash\\',
  'ünïcødé 日本語 🚀',
  '!bang',
  '#hash',
  '> redirect',
  '\r\n',
  ' '
]

describe('shellQuote: the one function that puts values into remote commands', () => {
  test('single-quotes and escapes a quote as closing, escaped, reopening', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`)
    expect(shellQuote('')).toBe("''")
  })

  test('hostile values reach a real shell literally and execute nothing', () => {
    expect(roundTrip(hostile)).toEqual(hostile)
    expect(() => execFileSync('test', ['-e', '/tmp/sfd-pwned'])).toThrow()
  })

  test('random bytes round-trip (1,000 values)', () => {
    const values = Array.from({ length: 1000 }, () =>
      randomBytes(1 + Math.floor(Math.random() * 24))
        .toString('latin1')
        .replace(/\0/g, '')
    ).map((value) => Buffer.from(value, 'latin1').toString('utf8'))
    expect(roundTrip(values)).toEqual(values)
  })

  test('a NUL byte cannot be passed and is refused', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/)
  })
})
