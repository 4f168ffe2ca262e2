import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DIST } from '../harness/run-action.js'

describe('the bundle', () => {
  // The entry points and the chunks they share.
  const dist = dirname(DIST)
  const bundle = readdirSync(dist, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.js'))
    .map((path) => readFileSync(join(dist, path), 'utf8'))
    .join('\n')

  test('has the three entry points, each a module that runs as it is', () => {
    for (const entry of ['index.js', 'cli.js', 'worker.js'])
      expect(readFileSync(join(dist, entry), 'utf8')).toMatch(/^(#!\/usr\/bin\/env node\n)?import /)
    expect(readFileSync(join(dist, 'cli.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/)
  })

  test('leaves out @actions/http-client and undici, which only getIDToken would use', () => {
    // undici's HTTP parser (llhttp) comes with it wherever it is bundled.
    expect(bundle).not.toContain('llhttp')
    // @actions/core itself is there.
    expect(bundle).toContain('GITHUB_OUTPUT')
  })

  test('does not import node:http or node:https (their ESM facade loads the undici in Node)', () => {
    const imports = [...bundle.matchAll(/^import .* from '(?:node:)?([a-z_/]+)';$/gm)].map(
      (match) => match[1]
    )
    expect(imports).toContain('crypto')
    expect(imports).not.toContain('http')
    expect(imports).not.toContain('https')
    // ssh2's client is still there.
    expect(bundle).toContain('Client')
  })
})
