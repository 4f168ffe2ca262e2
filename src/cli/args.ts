// The command line's arguments: every action input as an option of the same name, and the few
// options of the command line's own. Strict: an unknown option, a stray argument or a
// single-value option given twice is a usage error naming it.

import { parseArgs, type ParseArgsOptionsConfig } from 'node:util'
import type { InputName } from '../action/inputs.js'
import { errorMessage } from '../errors.js'
import type { ActionInput } from './action-inputs.js'

/** Bad usage: exit status 2, with the message and a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** The options that are not action inputs. */
export const OWN_OPTIONS = {
  'known-hosts-file': {
    type: 'string',
    multiple: true,
    description:
      'A known_hosts file to check host keys against (repeatable), beside --known-hosts TEXT. Default: ~/.ssh/known_hosts where no host key option is given.'
  },
  json: {
    type: 'boolean',
    description:
      'Print the results array (the results output) on stdout and nothing else there; the log goes to stderr.'
  },
  verbose: { type: 'boolean', description: 'Also print debug lines (each file sent or skipped).' },
  help: { type: 'boolean', short: 'h', description: 'Show this help.' },
  version: { type: 'boolean', short: 'V', description: 'Show the version.' }
} as const

export type CommandLine =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | {
      readonly kind: 'run'
      /** Each input given, as the action would read it (lists joined). */
      readonly inputs: ReadonlyMap<InputName, string>
      readonly knownHostsFiles: readonly string[]
      readonly json: boolean
      readonly verbose: boolean
    }

function optionsFor(inputs: readonly ActionInput[]): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = {}
  for (const input of inputs)
    options[input.name] =
      input.kind === 'boolean'
        ? { type: 'boolean' }
        : { type: 'string', multiple: input.kind === 'list' }
  for (const [name, spec] of Object.entries(OWN_OPTIONS))
    options[name] = {
      type: spec.type,
      ...('multiple' in spec ? { multiple: spec.multiple } : {}),
      ...('short' in spec ? { short: spec.short } : {})
    }
  return options
}

/** Node's parseArgs error, told as a user would want it. */
function usageProblem(error: unknown): UsageError {
  const code = (error as { code?: string }).code
  const message = errorMessage(error)
  const option = /'(-[^' ]+)/.exec(message)?.[1]
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    return new UsageError(`unknown option '${option ?? message}'`)
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const argument = /'([^']*)'/.exec(message)?.[1] ?? ''
    return new UsageError(
      `unexpected argument '${argument}': every value follows its option (--source '${argument}')`
    )
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /ambiguous/.test(message))
    return new UsageError(
      `the value of '${option ?? ''}' starts with '-': write it as ${option ?? ''}=VALUE`
    )
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /does not take an argument/.test(message))
    return new UsageError(
      `option '${option ?? ''}' takes no value: use ${option ?? ''} or --no-${(option ?? '').replace(/^--/, '')}`
    )
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
    return new UsageError(`option '${option ?? ''}' needs a value`)
  return new UsageError(message)
}

/** Options that are not lists and were given more than once (`--atomic --no-atomic` too). */
function repeatedSingles(
  tokens: readonly { kind: string; name?: string }[],
  inputs: readonly ActionInput[]
): string | undefined {
  const lists = new Set<string>(
    inputs.filter((input) => input.kind === 'list').map((input) => input.name)
  )
  lists.add('known-hosts-file')
  const seen = new Set<string>()
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue
    if (lists.has(token.name)) continue
    if (seen.has(token.name)) return token.name
    seen.add(token.name)
  }
  return undefined
}

export function parseCommandLine(
  argv: readonly string[],
  inputs: readonly ActionInput[]
): CommandLine {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      options: optionsFor(inputs),
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      tokens: true
    })
  } catch (error) {
    throw usageProblem(error)
  }
  const { values, tokens } = parsed
  if (values.help === true) return { kind: 'help' }
  if (values.version === true) return { kind: 'version' }

  const repeated = repeatedSingles(tokens, inputs)
  if (repeated !== undefined)
    throw new UsageError(`option '--${repeated}' was given more than once; it is not a list`)
  for (const own of ['json', 'verbose', 'help', 'version'])
    if (values[own] === false) throw new UsageError(`unknown option '--no-${own}'`)

  const given = new Map<InputName, string>()
  for (const input of inputs) {
    const value = values[input.name]
    if (value === undefined) continue
    if (typeof value === 'boolean') given.set(input.name, String(value))
    else if (Array.isArray(value)) given.set(input.name, value.join(input.separator))
    else given.set(input.name, value)
  }
  const files = values['known-hosts-file']
  return {
    kind: 'run',
    inputs: given,
    knownHostsFiles: Array.isArray(files) ? files.map(String) : [],
    json: values.json === true,
    verbose: values.verbose === true
  }
}
