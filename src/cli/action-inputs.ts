// The action's inputs as action.yml declares them, read at run time so that the command line's
// options and --help can never drift from the action's inputs.

import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { INPUT_NAMES, type InputName } from '../action/inputs.js'

/** How an input is given on the command line. */
export type OptionKind =
  /** `--name` / `--no-name` (its default is `true` or `false`). */
  | 'boolean'
  /** `--name VALUE`, repeatable: the values are joined as the input's list allows. */
  | 'list'
  /** `--name VALUE`, once. */
  | 'value'

export interface ActionInput {
  readonly name: InputName
  readonly description: string
  readonly default: string | undefined
  readonly required: boolean
  readonly kind: OptionKind
  /** For a list: what joins repeated values (a newline, or `, ` for a chain of jump hosts). */
  readonly separator: string
}

// Inputs that take several values; the rest take one.
const LIST_SEPARATORS: Partial<Record<InputName, string>> = {
  host: '\n',
  source: '\n',
  fingerprint: '\n',
  'known-hosts': '\n',
  select: '\n',
  keep: '\n',
  jump: ', '
}

function isInputName(name: string): name is InputName {
  return (INPUT_NAMES as readonly string[]).includes(name)
}

/** Reads action.yml's inputs, in its order. Throws where it and the action's inputs differ. */
export function readActionInputs(actionYmlPath: string): ActionInput[] {
  const document = parse(readFileSync(actionYmlPath, 'utf8')) as {
    inputs?: Record<
      string,
      { description?: string; default?: string | number | boolean; required?: boolean }
    >
  }
  const inputs = Object.entries(document.inputs ?? {}).map(([name, spec]): ActionInput => {
    if (!isInputName(name)) throw new Error(`action.yml declares '${name}', which the action lacks`)
    const fallback = spec.default === undefined ? undefined : String(spec.default)
    const separator = LIST_SEPARATORS[name]
    return {
      name,
      description: (spec.description ?? '').replace(/\s+/g, ' ').trim(),
      default: fallback,
      required: spec.required === true,
      kind:
        fallback === 'true' || fallback === 'false'
          ? 'boolean'
          : separator === undefined
            ? 'value'
            : 'list',
      separator: separator ?? ''
    }
  })
  const missing = INPUT_NAMES.filter((name) => !inputs.some((input) => input.name === name))
  if (missing.length > 0) throw new Error(`action.yml lacks the inputs ${missing.join(', ')}`)
  return inputs
}
