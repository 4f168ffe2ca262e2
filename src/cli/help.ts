// --help, written from action.yml's inputs so that the options and the inputs never drift.

import type { ActionInput } from './action-inputs.js'
import { OWN_OPTIONS } from './args.js'

const WIDTH = 100
const INDENT = '      '

/** `text` wrapped at WIDTH, each line indented. */
function wrap(text: string, indent: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > WIDTH) {
      lines.push(indent + line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(indent + line)
  return lines
}

/** `--name VALUE`, `--[no-]name`, with what it defaults to and whether it repeats. */
function optionTitle(input: ActionInput): string {
  if (input.kind === 'boolean')
    return `  --${input.default === 'true' ? '[no-]' : ''}${input.name}  (default: ${input.default ?? 'false'})`
  const notes: string[] = []
  if (input.required) notes.push('required')
  if (input.default !== undefined) notes.push(`default: ${input.default}`)
  if (input.kind === 'list') notes.push('repeatable')
  return `  --${input.name} VALUE${notes.length > 0 ? `  (${notes.join(', ')})` : ''}`
}

export function helpText(inputs: readonly ActionInput[], version: string): string {
  const lines = [
    `ssh-fanout-deploy ${version}: deploy files to one server or a fleet over SSH, host keys`,
    'checked, every file verified by SHA-256 and published atomically.',
    '',
    'Usage: ssh-fanout-deploy --host HOST --source GLOB --target DIR [options]',
    '',
    'Each option is the GitHub Action input of the same name (see README). A repeatable option',
    'given twice is the input with one value per line. Keys come from ssh-agent (SSH_AUTH_SOCK)',
    'and then each of ~/.ssh/id_ed25519, id_ecdsa, id_rsa in turn where no --key or --key-path',
    'is given; host keys are checked against ~/.ssh/known_hosts where no --known-hosts,',
    '--known-hosts-file or --fingerprint is given. Exit status: 0 every host deployed (or',
    'planned, or failed within --max-failures), 1 a host failed, 2 bad usage or input.',
    '',
    'Inputs:'
  ]
  for (const input of inputs) {
    lines.push(optionTitle(input))
    lines.push(...wrap(input.description, INDENT))
  }
  lines.push('', 'Command line:')
  for (const [name, spec] of Object.entries(OWN_OPTIONS)) {
    const short = 'short' in spec ? `-${spec.short}, ` : ''
    lines.push(`  ${short}--${name}${spec.type === 'string' ? ' PATH' : ''}`)
    lines.push(...wrap(spec.description, INDENT))
  }
  return `${lines.join('\n')}\n`
}
