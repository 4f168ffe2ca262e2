// action.yml and README are the user-facing copy of the contract: they must name exactly the
// inputs and outputs the code reads and writes.
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { INPUT_NAMES } from '../../src/action/inputs.js'
import { buildOutputs } from '../../src/action/report.js'

const root = resolve(import.meta.dirname, '../..')
const actionYml = readFileSync(resolve(root, 'action.yml'), 'utf8')
const readme = readFileSync(resolve(root, 'README.md'), 'utf8')

/** Keys indented two spaces under a top-level `section:` of action.yml. */
function sectionKeys(section: string): string[] {
  const block = actionYml.split(new RegExp(`^${section}:\\n`, 'm'))[1]?.split(/^\S/m)[0] ?? ''
  return [...block.matchAll(/^ {2}([a-z0-9-]+):/gm)].map((match) => match[1] ?? '')
}

function readmeTableNames(heading: string): string[] {
  const section = readme.split(`## ${heading}\n`)[1]?.split(/^## /m)[0] ?? ''
  return [...section.matchAll(/^\| `([a-z0-9-]+)` +\|/gm)].map((match) => match[1] ?? '')
}

describe('documentation matches the code', () => {
  // With `releases` the outputs include `release`.
  const outputNames = Object.keys(buildOutputs([], 0, 'r1'))

  test('action.yml declares exactly the inputs the action reads', () => {
    expect(sectionKeys('inputs').sort()).toEqual([...INPUT_NAMES].sort())
  })

  test('action.yml declares exactly the outputs the action writes', () => {
    expect(sectionKeys('outputs').sort()).toEqual(outputNames.sort())
  })

  test('README documents every input and output', () => {
    expect(readmeTableNames('Inputs').sort()).toEqual([...INPUT_NAMES].sort())
    expect(readmeTableNames('Outputs').sort()).toEqual(outputNames.sort())
  })

  test('action.yml runs the bundle on node24', () => {
    expect(actionYml).toMatch(/^ {2}using: node24$/m)
    expect(actionYml).toMatch(/^ {2}main: dist\/index\.js$/m)
  })

  test('the README test command is what CI runs', () => {
    expect(readme).toContain('npm cit')
    expect(readFileSync(resolve(root, '.ci/run'), 'utf8')).toMatch(/^npm test$/m)
  })

  test("README's Layout names every source file, in its folder", () => {
    const layout = readme.split('### Layout\n')[1]?.split(/^## /m)[0] ?? ''
    const listed = new Set<string>()
    let folder = ''
    for (const line of layout.split('\n')) {
      const dir = /^ {2}([a-z-]+(?:\/[a-z-]+)*)\/ /.exec(line)
      if (dir !== null) folder = `${dir[1] ?? ''}/`
      const file = /^ {2}( {2})?([a-z0-9-]+\.ts) /.exec(line)
      if (file !== null) listed.add(`${file[1] === undefined ? '' : folder}${file[2] ?? ''}`)
    }
    const sources = readdirSync(resolve(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((path) => path.endsWith('.ts'))
      .sort()
    expect([...listed].sort()).toEqual(sources)
  })
})
