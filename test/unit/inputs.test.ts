import { writeFileSync } from 'node:fs'
import { join, win32 } from 'node:path'
import { describe, expect, test } from 'vitest'
import { InputError } from '../../src/errors.js'
import { parseInputs, type InputName } from '../../src/action/inputs.js'
import { sshKeygen } from '../helpers/keys.js'
import { tempDir } from '../harness/temp.js'

const key = sshKeygen('ed25519')
const workspace = tempDir('inputs')
const knownHosts = `[127.0.1.2]:2200 ${key.publicKey.split(' ').slice(0, 2).join(' ')}`

const base: Partial<Record<InputName, string>> = {
  host: '127.0.1.2:2200',
  username: 'deploy',
  key: key.privateKey,
  'known-hosts': knownHosts,
  source: 'dist/**',
  target: '/srv/www'
}

function parse(overrides: Partial<Record<InputName, string>>) {
  const values = { ...base, ...overrides }
  return parseInputs((name) => (values[name] ?? '').trim(), {
    workspace,
    readFile: (path) => {
      if (path.endsWith('missing')) throw new Error('ENOENT: no such file')
      return key.privateKey
    },
    variables: {}
  })
}

function refusal(overrides: Partial<Record<InputName, string>>): InputError {
  try {
    parse(overrides)
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('expected the inputs to be refused')
}

describe('inputs', () => {
  test('defaults of the contract', () => {
    const settings = parse({})
    expect(settings).toMatchObject({
      connectTimeoutMs: 30_000,
      timeoutMs: 30 * 60_000,
      stripComponents: 0,
      ifNoFilesFound: 'error',
      followSymbolicLinks: true,
      maxParallel: 8,
      concurrency: 8,
      retries: 3,
      retryDelayMs: 1000,
      verify: 'sha256',
      atomic: true,
      resume: true,
      idleTimeoutMs: 60_000,
      keepaliveIntervalMs: 10_000,
      preflight: true,
      workingDirectory: workspace
    })
    expect(settings.hosts[0]?.label).toBe('deploy@127.0.1.2:2200')
    expect(settings.hosts[0]?.target).toBe('/srv/www')
    expect(settings.hosts[0]?.credentials.description).toBe('ssh-ed25519 key')
    expect(settings.hosts[0]?.hostKeys.mode).toBe('verify')
  })

  test('every value is read', () => {
    const settings = parse({
      port: '2022',
      host: 'a\nb:23',
      'connect-timeout': '5s',
      timeout: '10m',
      'working-directory': 'build',
      'strip-components': '2',
      'if-no-files-found': 'warn',
      'follow-symbolic-links': 'false',
      'max-parallel': '3',
      concurrency: '4',
      retries: '0',
      'retry-delay': '250ms',
      verify: 'size',
      atomic: 'FALSE',
      resume: 'false',
      'idle-timeout': '90s',
      'keepalive-interval': '2s',
      preflight: 'false',
      password: 'pw'
    })
    expect(settings.hosts.map((host) => host.port)).toEqual([2022, 23])
    expect(settings).toMatchObject({
      connectTimeoutMs: 5000,
      timeoutMs: 600_000,
      workingDirectory: join(workspace, 'build'),
      stripComponents: 2,
      ifNoFilesFound: 'warn',
      followSymbolicLinks: false,
      maxParallel: 3,
      concurrency: 4,
      retries: 0,
      retryDelayMs: 250,
      verify: 'size',
      atomic: false,
      resume: false,
      idleTimeoutMs: 90_000,
      keepaliveIntervalMs: 2000,
      preflight: false
    })
    expect(settings.hosts[0]?.credentials.description).toBe('ssh-ed25519 key, then password')
  })

  test('insecure-ignore-host-key is allowed with a warning', () => {
    const settings = parse({ 'known-hosts': '', 'insecure-ignore-host-key': 'true' })
    expect(settings.hosts[0]?.hostKeys.mode).toBe('insecure')
    expect(settings.warnings.join()).toMatch(/not checked/)
  })

  test('key-path reads the key from a file; password alone is enough', () => {
    expect(parse({ key: '', 'key-path': 'id_ed25519' }).hosts[0]?.credentials.privateKey).toContain(
      'OPENSSH'
    )
    expect(parse({ key: '', password: 'secret' }).hosts[0]?.credentials).toMatchObject({
      privateKey: undefined,
      password: 'secret'
    })
  })

  test("the command line's key files: each tried in turn where no key input is given", () => {
    const rsa = sshKeygen('rsa')
    const files: Record<string, string> = { '/home/a/.ssh/id_ed25519': key.privateKey }
    files['/home/a/.ssh/id_rsa'] = rsa.privateKey
    const withFiles = (overrides: Partial<Record<InputName, string>>, keyFiles: string[]) => {
      const values = { ...base, ...overrides }
      return parseInputs((name) => (values[name] ?? '').trim(), {
        workspace,
        readFile: (path) => {
          const text = files[path]
          if (text === undefined) throw new Error(`ENOENT: ${path}`)
          return text
        },
        variables: {},
        keyFiles
      })
    }
    const paths = ['/home/a/.ssh/id_ed25519', '/home/a/.ssh/id_rsa']
    const { credentials } = withFiles({ key: '' }, paths).hosts[0] ?? {}
    expect(credentials?.privateKey).toContain('OPENSSH')
    expect(credentials?.moreKeys).toHaveLength(1)
    expect(credentials?.moreKeys?.[0]?.key).toContain('PRIVATE KEY')
    expect(credentials?.description).toBe(
      'ssh-ed25519 key /home/a/.ssh/id_ed25519, then ssh-rsa key /home/a/.ssh/id_rsa'
    )
    // A key input wins: the files are not read.
    expect(withFiles({}, ['/nowhere/id_rsa']).hosts[0]?.credentials.moreKeys).toBeUndefined()
    // A file gone since the command line looked: named under key-path.
    expect(() => withFiles({ key: '' }, ['/nowhere/id_rsa'])).toThrow(
      /Input 'key-path': cannot use '\/nowhere\/id_rsa': ENOENT/
    )
  })

  const refused: [string, Partial<Record<InputName, string>>, InputName, RegExp][] = [
    ['empty host', { host: '' }, 'host', /names no host/],
    ['a duplicate host', { host: '127.0.1.2:2200\ndeploy@127.0.1.2:2200' }, 'host', /duplicates/],
    ['no user', { username: '' }, 'username', /no user/],
    ['a bad port', { port: 'ssh' }, 'port', /not a port/],
    ['strip-components: -1', { 'strip-components': '-1' }, 'strip-components', /whole number/],
    ['max-parallel: many', { 'max-parallel': 'many' }, 'max-parallel', /whole number/],
    ['max-parallel: 0', { 'max-parallel': '0' }, 'max-parallel', /out of range/],
    ['concurrency: 1000', { concurrency: '1000' }, 'concurrency', /out of range/],
    ['retries: 1.5', { retries: '1.5' }, 'retries', /whole number/],
    ['an unknown verify mode', { verify: 'md5' }, 'verify', /not one of: sha256, size, none/],
    [
      'an unknown if-no-files-found',
      { 'if-no-files-found': 'fail' },
      'if-no-files-found',
      /not one of/
    ],
    ['a bad duration', { 'connect-timeout': 'soon' }, 'connect-timeout', /not a duration/],
    ['a zero duration', { timeout: '0s' }, 'timeout', /longer than zero/],
    ['a bad retry-delay', { 'retry-delay': '1 minute' }, 'retry-delay', /not a duration/],
    ['a bad boolean', { atomic: 'yes' }, 'atomic', /not a boolean/],
    ['a bad idle-timeout', { 'idle-timeout': 'never' }, 'idle-timeout', /not a duration/],
    [
      'a bad keepalive-interval',
      { 'keepalive-interval': '-1' },
      'keepalive-interval',
      /not a duration/
    ],
    ['a bad resume', { resume: 'maybe' }, 'resume', /not a boolean/],
    ['a bad preflight', { preflight: '1' }, 'preflight', /not a boolean/],
    ['a public key as key', { key: key.publicKey }, 'key', /public key/],
    ['a key that does not parse', { key: 'hello' }, 'key', /not a private key/],
    [
      'a wrong passphrase',
      { key: sshKeygen('ed25519', [], 'rightpass').privateKey, passphrase: 'wrong' },
      'passphrase',
      /does not decrypt/
    ],
    ['key and key-path', { 'key-path': 'id' }, 'key-path', /not both/],
    [
      'a key-path that cannot be read',
      { key: '', 'key-path': 'missing' },
      'key-path',
      /cannot read/
    ],
    ['no credentials', { key: '' }, 'key', /no credentials/],
    ['no host key material', { 'known-hosts': '' }, 'known-hosts', /no host key to check/],
    ['a broken known-hosts line', { 'known-hosts': 'web1 ssh-ed25519' }, 'known-hosts', /line 1/],
    [
      'a bad fingerprint',
      { 'known-hosts': '', fingerprint: 'SHA256:nope' },
      'fingerprint',
      /not a host key fingerprint/
    ],
    [
      'insecure with pins',
      { 'insecure-ignore-host-key': 'true' },
      'insecure-ignore-host-key',
      /either checked or not/
    ],
    ['no source', { source: '' }, 'source', /is required/],
    ['only excludes', { source: '!*.map' }, 'source', /only exclude/],
    ['no target', { target: '' }, 'target', /is required/]
  ]
  test.each(refused)('%s is refused, naming the input', (_what, overrides, input, message) => {
    const error = refusal(overrides)
    expect(error.input).toBe(input)
    expect(error.message.startsWith(`Input '${input}': `)).toBe(true)
    expect(error.message).toMatch(message)
  })

  test('a refusal never repeats a secret', () => {
    const secret = 'hunter2-secret-value'
    for (const overrides of [
      { key: secret },
      { passphrase: secret, key: sshKeygen('ed25519', [], 'other1').privateKey }
    ]) {
      expect(refusal(overrides).message).not.toContain(secret)
    }
  })

  test('a key read from key-path that is public names key-path', () => {
    const dir = tempDir('kp')
    writeFileSync(join(dir, 'k.pub'), key.publicKey)
    const values = { ...base, key: '', 'key-path': join(dir, 'k.pub') }
    expect(() =>
      parseInputs((name) => values[name] ?? '', {
        workspace,
        readFile: () => key.publicKey,
        variables: {}
      })
    ).toThrow(/Input 'key-path': this is a public key/)
  })

  test('key-path: absolute as given, relative (`~` too: no shell expands it) from the workspace; a CRLF file reads', () => {
    const read: string[] = []
    const credentialsFor = (keyPath: string) => {
      const values = { ...base, key: '', 'key-path': keyPath }
      return parseInputs((name) => values[name] ?? '', {
        workspace,
        readFile: (path) => {
          read.push(path)
          if (!path.startsWith('/keys/')) throw new Error('ENOENT: no such file')
          return `\uFEFF${key.privateKey.replace(/\n/g, '\r\n')}`
        },
        variables: {}
      }).hosts[0]?.credentials
    }
    expect(credentialsFor('/keys/id_ed25519')?.description).toBe('ssh-ed25519 key')
    expect(() => credentialsFor('~/.ssh/id_ed25519')).toThrow(
      `Input 'key-path': cannot read '${workspace}/~/.ssh/id_ed25519'`
    )
    expect(() => credentialsFor('keys\\id_ed25519')).toThrow(`'${workspace}/keys\\id_ed25519'`)
    expect(read).toEqual([
      '/keys/id_ed25519',
      `${workspace}/~/.ssh/id_ed25519`,
      `${workspace}/keys\\id_ed25519`
    ])
  })

  describe('with Windows path rules (a Windows runner)', () => {
    const windowsWorkspace = 'D:\\a\\repo\\repo'
    const parsed = (overrides: Partial<Record<InputName, string>>, read: string[] = []) => {
      const values = { ...base, ...overrides }
      return parseInputs((name) => values[name] ?? '', {
        workspace: windowsWorkspace,
        readFile: (path) => {
          read.push(path)
          return path.endsWith('.yml') ? 'hosts: [web1.example.com]\n' : key.privateKey
        },
        variables: {},
        path: win32
      })
    }

    test('working-directory and key-path: drive letters, either separator', () => {
      const read: string[] = []
      expect(parsed({ 'working-directory': 'site/dist' }).workingDirectory).toBe(
        'D:\\a\\repo\\repo\\site\\dist'
      )
      parsed({ key: '', 'key-path': 'C:\\Users\\me\\.ssh\\id_ed25519' }, read)
      parsed({ key: '', 'key-path': 'keys/deploy' }, read)
      expect(read).toEqual(['C:\\Users\\me\\.ssh\\id_ed25519', 'D:\\a\\repo\\repo\\keys\\deploy'])
    })

    test('an inventory file in the workspace is read; on another drive or share it is refused', () => {
      const read: string[] = []
      expect(parsed({ host: '', inventory: 'deploy\\fleet.yml' }, read).hosts).toHaveLength(1)
      expect(read).toEqual(['D:\\a\\repo\\repo\\deploy\\fleet.yml'])
      for (const outside of ['C:\\other\\fleet.yml', '\\\\srv\\share\\fleet.yml', '..\\fleet.yml'])
        expect(() => parsed({ host: '', inventory: outside })).toThrow(
          /Input 'inventory': .* is outside the workspace/
        )
    })
  })
})
