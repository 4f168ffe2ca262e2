import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { DIST } from '../harness/run-action.js'

describe('the bundle', () => {
  const bundle = readFileSync(DIST, 'utf8')

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
