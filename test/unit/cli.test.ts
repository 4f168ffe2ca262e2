// The command line's parts without a host: options from action.yml, usage errors, --help, the
// terminal's defaults, masking and how input errors name the option.

import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { INPUT_NAMES } from '../../src/action/inputs.js'
import { readActionInputs } from '../../src/cli/action-inputs.js'
import { parseCommandLine, UsageError, type CommandLine } from '../../src/cli/args.js'
import { applyTerminalDefaults } from '../../src/cli/defaults.js'
import type { Display } from '../../src/cli/display.js'
import { helpText } from '../../src/cli/help.js'
import { createTerminalIO, withOption } from '../../src/cli/terminal-io.js'
import { sshKeygen } from '../helpers/keys.js'
import { tempDir } from '../harness/temp.js'

const inputs = readActionInputs(resolve(import.meta.dirname, '../../action.yml'))

function parsed(argv: readonly string[]): Extract<CommandLine, { kind: 'run' }> {
  const line = parseCommandLine(argv, inputs)
  if (line.kind !== 'run') throw new Error(`expected a run, got ${line.kind}`)
  return line
}

function usageError(argv: readonly string[]): string {
  try {
    parseCommandLine(argv, inputs)
  } catch (error) {
    if (error instanceof UsageError) return error.message
    throw error
  }
  throw new Error('no usage error')
}

describe('options', () => {
  test('every input of action.yml is an option, in its order', () => {
    expect(inputs.map((input) => input.name)).toEqual([...INPUT_NAMES])
  })

  test('an action.yml that declares an input the action lacks is refused', () => {
    const path = join(tempDir('yml'), 'action.yml')
    writeFileSync(path, 'inputs:\n  hosts:\n    description: typo\n')
    expect(() => readActionInputs(path)).toThrow(/declares 'hosts', which the action lacks/)
  })

  test('booleans by their default; lists repeat, joined as the input reads them', () => {
    const kinds = Object.fromEntries(inputs.map((input) => [input.name, input.kind]))
    expect(kinds).toMatchObject({
      atomic: 'boolean',
      'insecure-ignore-host-key': 'boolean',
      'dry-run': 'boolean',
      host: 'list',
      source: 'list',
      jump: 'list',
      port: 'value',
      target: 'value'
    })
    const line = parsed([
      '--host',
      'a.example',
      '--host',
      'b.example',
      '--source',
      'dist/**',
      '--source',
      '!**/*.map',
      '--jump',
      'bastion1',
      '--jump',
      'bastion2:2222',
      '--no-atomic',
      '--dry-run',
      '--port',
      '2222'
    ])
    expect(Object.fromEntries(line.inputs)).toEqual({
      host: 'a.example\nb.example',
      source: 'dist/**\n!**/*.map',
      jump: 'bastion1, bastion2:2222',
      atomic: 'false',
      'dry-run': 'true',
      port: '2222'
    })
  })

  test('the options of the command line itself', () => {
    const line = parsed([
      '--known-hosts-file',
      'a',
      '--known-hosts-file',
      'b',
      '--json',
      '--verbose'
    ])
    expect(line).toMatchObject({ knownHostsFiles: ['a', 'b'], json: true, verbose: true })
    expect(parseCommandLine(['--help'], inputs).kind).toBe('help')
    expect(parseCommandLine(['-V'], inputs).kind).toBe('version')
  })

  test.each([
    [['--hosts', 'a'], "unknown option '--hosts'"],
    [['--no-port'], "unknown option '--no-port'"],
    [['--no-json'], "unknown option '--no-json'"],
    [['deploy'], "unexpected argument 'deploy'"],
    [['--target', 'a', '--target', 'b'], "option '--target' was given more than once"],
    [['--delete=true'], "option '--delete' takes no value: use --delete or --no-delete"],
    [['--target'], "option '--target' needs a value"],
    [['--atomic', '--no-atomic'], "option '--atomic' was given more than once; it is not a list"],
    [['--json', '--json'], "option '--json' was given more than once"],
    [
      ['--passphrase', '-abc'],
      "the value of '--passphrase' starts with '-': write it as --passphrase=VALUE"
    ]
  ])('usage error for %j', (argv, message) => {
    expect(usageError(argv)).toContain(message)
  })

  test('--help lists every input with its default, and the own options', () => {
    const help = helpText(inputs, '9.9.9')
    for (const input of inputs) expect(help).toMatch(new RegExp(`--(\\[no-\\])?${input.name}\\b`))
    expect(help).toContain('--[no-]atomic  (default: true)')
    expect(help).toContain('--port VALUE  (default: 22)')
    expect(help).toContain('--source VALUE  (required, repeatable)')
    expect(help).toContain('--known-hosts-file PATH')
    expect(help).toContain('ssh-fanout-deploy 9.9.9')
    for (const line of help.split('\n')) expect(line.length).toBeLessThanOrEqual(100)
  })
})

describe("a person's defaults", () => {
  const env = (home: string, agentSocket?: string) => ({
    home,
    cwd: tempDir('cwd'),
    user: () => 'alice',
    agentSocket
  })

  function homeWith(files: Record<string, string>): string {
    const home = tempDir('home')
    mkdirSync(join(home, '.ssh'))
    for (const [name, text] of Object.entries(files)) writeFileSync(join(home, '.ssh', name), text)
    return home
  }

  test('the agent, then every default key that loads, in OpenSSH order; known_hosts; the user', () => {
    const encrypted = sshKeygen('ed25519', [], 'secret')
    const plain = sshKeygen('ecdsa')
    const rsa = sshKeygen('rsa')
    const home = homeWith({
      id_rsa: rsa.privateKey,
      id_ed25519: encrypted.privateKey,
      id_ecdsa: plain.privateKey,
      known_hosts: 'example.com ' + plain.publicKey
    })
    const run = applyTerminalDefaults(new Map(), [], env(home, '/run/agent.sock'))
    expect(run.agent).toBe('/run/agent.sock')
    expect(run.keyFiles).toEqual([join(home, '.ssh', 'id_ecdsa'), join(home, '.ssh', 'id_rsa')])
    // Given as the command line's own keys, not as --key-path: the action's input stays unset.
    expect(run.inputs.has('key-path')).toBe(false)
    expect(run.notes).toContain(
      `keys: ssh-agent, then ${join(home, '.ssh', 'id_ecdsa')}, then ${join(home, '.ssh', 'id_rsa')}`
    )
    expect(run.inputs.get('known-hosts')).toContain('example.com ecdsa-sha2-nistp256')
    expect(run.inputs.get('username')).toBe('alice')
    expect(run.knownHostsSource).toBe(join(home, '.ssh', 'known_hosts'))
  })

  test('an encrypted default key without --passphrase is passed over, and said why', () => {
    const encrypted = sshKeygen('ed25519', [], 'secret')
    const home = homeWith({ id_ed25519: encrypted.privateKey })
    const run = applyTerminalDefaults(new Map(), [], env(home))
    expect(run.keyFiles).toEqual([])
    expect(run.notes).toContain(
      `${join(home, '.ssh', 'id_ed25519')} not used: it is encrypted: give --passphrase, or add it to ssh-agent`
    )
  })

  test('a line of ~/.ssh/known_hosts that cannot be read is passed over, as OpenSSH does', () => {
    const key = sshKeygen('ed25519')
    const home = homeWith({
      known_hosts: `old.example ssh-rsa AAAA==truncated\nweb.example ${key.publicKey}`
    })
    const run = applyTerminalDefaults(new Map(), [], env(home))
    expect(run.inputs.get('known-hosts')?.trim()).toBe(`web.example ${key.publicKey.trim()}`)
    expect(run.notes.join('\n')).toMatch(/known_hosts line 1 passed over: the ssh-rsa key is/)
  })

  test('no user name: --username is asked for; a missing inventory file is named', () => {
    const home = tempDir('home')
    expect(() =>
      applyTerminalDefaults(new Map(), [], { ...env(home), user: () => undefined })
    ).toThrow('the system has no name for this user: give --username')
    expect(() =>
      applyTerminalDefaults(new Map([['inventory', 'nothere.yml']]), [], env(home))
    ).toThrow(/--inventory '.*nothere\.yml': ENOENT/)
  })

  test('an encrypted default key is used with --passphrase', () => {
    const encrypted = sshKeygen('ed25519', [], 'secret')
    const home = homeWith({ id_ed25519: encrypted.privateKey })
    const run = applyTerminalDefaults(new Map([['passphrase', 'secret']]), [], env(home))
    expect(run.keyFiles).toEqual([join(home, '.ssh', 'id_ed25519')])
  })

  test('nothing is taken where the options give it', () => {
    const home = homeWith({ id_rsa: sshKeygen('rsa').privateKey, known_hosts: '' })
    const given = new Map([
      ['key', 'KEY TEXT'],
      ['fingerprint', 'SHA256:x'],
      ['username', 'bob']
    ] as const)
    const run = applyTerminalDefaults(given, [], env(home, '/run/agent.sock'))
    expect(run.agent).toBeUndefined()
    expect(run.keyFiles).toEqual([])
    expect(run.inputs.has('key-path')).toBe(false)
    expect(run.inputs.has('known-hosts')).toBe(false)
    expect(run.inputs.get('username')).toBe('bob')
  })

  test('no ~/.ssh: no key, no host keys (the run then fails closed)', () => {
    const run = applyTerminalDefaults(new Map(), [], env(tempDir('empty-home')))
    expect(run.agent).toBeUndefined()
    expect(run.keyFiles).toEqual([])
    expect(run.inputs.has('known-hosts')).toBe(false)
  })

  test('--known-hosts-file files are read and joined to --known-hosts', () => {
    const dir = tempDir('kh')
    writeFileSync(join(dir, 'a'), 'a.example ssh-ed25519 AAAA\n')
    const run = applyTerminalDefaults(
      new Map([['known-hosts', 'b.example ssh-ed25519 BBBB']]),
      [join(dir, 'a')],
      env(tempDir('home'))
    )
    expect(run.inputs.get('known-hosts')).toBe(
      'b.example ssh-ed25519 BBBB\na.example ssh-ed25519 AAAA'
    )
    expect(() => applyTerminalDefaults(new Map(), [join(dir, 'missing')], env(dir))).toThrow(
      /--known-hosts-file '.*missing': ENOENT/
    )
  })

  test('an inventory file is read wherever it is; inline text is left as it is', () => {
    const dir = tempDir('inv')
    writeFileSync(join(dir, 'fleet.yml'), 'hosts: [a.example]\n')
    const fromFile = applyTerminalDefaults(
      new Map([['inventory', join(dir, 'fleet.yml')]]),
      [],
      env(tempDir('home'))
    )
    expect(fromFile.inputs.get('inventory')).toBe('hosts: [a.example]\n')
    const inline = applyTerminalDefaults(
      new Map([['inventory', 'hosts: [b.example]']]),
      [],
      env(tempDir('home'))
    )
    expect(inline.inputs.get('inventory')).toBe('hosts: [b.example]')
  })
})

describe('the terminal IO', () => {
  function recording(): { display: Display; lines: string[] } {
    const lines: string[] = []
    return {
      lines,
      display: {
        start: () => undefined,
        update: () => undefined,
        done: () => undefined,
        log: (line) => lines.push(line),
        finish: () => undefined
      }
    }
  }

  test('secrets are masked in every line, each line of a multi-line secret too', () => {
    const { display, lines } = recording()
    const io = createTerminalIO({ inputs: new Map(), display, verbose: false })
    io.setSecret('hunter2')
    io.setSecret('-----BEGIN KEY-----\nabcdefghij\n-----END KEY-----')
    io.info('password hunter2 and abcdefghij')
    io.group('host: failed', [{ text: 'tried hunter2' }, { text: 'debug hunter2', debug: true }])
    expect(lines).toEqual(['password *** and ***', 'host: failed', '  tried ***'])
  })

  test('debug lines with --verbose; outputs kept; inputs read trimmed', () => {
    const { display, lines } = recording()
    const io = createTerminalIO({
      inputs: new Map([['target', ' app ']]),
      display,
      verbose: true
    })
    io.group('host: success', [{ text: 'sent a.txt', debug: true }])
    io.setOutput('results', '[]')
    expect(lines).toEqual(['host: success', '  sent a.txt'])
    expect(io.outputs.get('results')).toBe('[]')
    expect(io.getInput('target')).toBe('app')
  })

  test("an input's error names the option that sets it", () => {
    expect(withOption("Input 'max-parallel': 'x' is not a whole number", undefined)).toBe(
      "Input 'max-parallel' (--max-parallel): 'x' is not a whole number"
    )
    expect(withOption("Input 'known-hosts': line 3: bad", '/home/a/.ssh/known_hosts')).toBe(
      "Input 'known-hosts' (from /home/a/.ssh/known_hosts): line 3: bad"
    )
    expect(withOption('connection refused', undefined)).toBe('connection refused')
  })
})
