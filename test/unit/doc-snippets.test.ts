// The YAML that the docs show is copied into workflows: every block must parse, and every step
// of this action in it must use inputs that action.yml declares. docs/migrating.md's "after"
// snippets (the blocks that use this action) are also linted and run through the action's own
// input checks, and each action it covers has a before and an after.
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { parse, parseDocument } from 'yaml'
import {
  actionSteps,
  asWorkflow,
  createWorkflowLinter,
  declaredInputs,
  formatFinding,
  refusals,
  unknownInputs
} from '../helpers/workflows.js'

const root = resolve(import.meta.dirname, '../..')
const inputs = declaredInputs()

interface Block {
  /** `file:line` of the block's first line. */
  readonly where: string
  readonly text: string
}

/** The fenced ```yaml blocks of a Markdown text. */
function yamlBlocks(markdown: string, file: string): Block[] {
  return [...markdown.matchAll(/^```ya?ml\n([\s\S]*?)^```$/gm)].map((match) => ({
    where: `${file}:${markdown.slice(0, match.index).split('\n').length + 1}`,
    text: match[1] ?? ''
  }))
}

const docs = [
  'README.md',
  ...readdirSync(resolve(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
]
const blocks = docs.flatMap((file) => yamlBlocks(readFileSync(resolve(root, file), 'utf8'), file))
const migrating = readFileSync(resolve(root, 'docs/migrating.md'), 'utf8')
const migratingBlocks = yamlBlocks(migrating, 'docs/migrating.md')
const afterBlocks = migratingBlocks.filter((block) => actionSteps(parse(block.text)).length > 0)

const lint = await createWorkflowLinter()

describe('YAML in the docs', () => {
  test('there are blocks to check', () => {
    expect(blocks.length).toBeGreaterThan(10)
    expect(afterBlocks.length).toBeGreaterThan(0)
  })

  test.each(blocks.map((block) => [block.where, block] as const))('%s parses', (_, block) => {
    expect(parseDocument(block.text).errors.map((error) => error.message)).toEqual([])
  })

  test.each(blocks.map((block) => [block.where, block] as const))(
    '%s gives the action only inputs that action.yml declares',
    (_, block) => {
      expect(unknownInputs(parse(block.text), inputs)).toEqual([])
    }
  )
})

describe('docs/migrating.md', () => {
  test('each action it covers has a before and an after', () => {
    const sections = migrating.split(/^## /m).filter((section) => /^[\w-]+\/[\w-]+\n/.test(section))
    expect(sections.map((section) => section.split('\n')[0])).toEqual([
      'appleboy/scp-action',
      'appleboy/ssh-action',
      'easingthemes/ssh-deploy',
      'Burnett01/rsync-deployments'
    ])
    for (const section of sections) {
      const [name = ''] = section.split('\n')
      const steps = yamlBlocks(section, name).map((block) => actionSteps(parse(block.text)).length)
      expect(steps.filter((count) => count === 0).length, `${name}: before`).toBeGreaterThan(0)
      expect(steps.filter((count) => count > 0).length, `${name}: after`).toBeGreaterThan(0)
    }
  })

  test.each(migratingBlocks.map((block) => [block.where, block] as const))(
    '%s passes actionlint',
    (_, block) => {
      expect(lint(asWorkflow(block.text), block.where).map(formatFinding)).toEqual([])
    }
  )

  test.each(afterBlocks.map((block) => [block.where, block] as const))(
    '%s: the action accepts its inputs as the runner would pass them',
    (_, block) => {
      expect(refusals(parse(block.text))).toEqual([])
    }
  )
})
