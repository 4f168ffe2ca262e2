import { existsSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { expect, test } from 'vitest'
import { removeTempDirs, tempDir } from '../harness/temp.js'

test('tempDir makes a new directory under the temporary directory, and removeTempDirs removes it with its contents', () => {
  const first = tempDir('probe')
  const second = tempDir('probe')
  expect(first).not.toBe(second)
  for (const dir of [first, second]) {
    expect(dirname(dir)).toBe(tmpdir())
    expect(basename(dir)).toMatch(/^sfd-probe-/)
    expect(statSync(dir).isDirectory()).toBe(true)
  }
  writeFileSync(join(first, 'file'), 'x')
  removeTempDirs()
  expect(existsSync(first)).toBe(false)
  expect(existsSync(second)).toBe(false)
})
