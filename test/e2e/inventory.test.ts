// The `inventory`, `select` and `shard` inputs against real OpenSSH servers: hosts that differ
// (port, target, key), chosen by label, split across matrix jobs; and every inventory a user can
// get wrong, which fails the step before any connection.

import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { workspace } from '../helpers/workspace.js'
import {
  errorAnnotations,
  logOf,
  results,
  runAction,
  sha256,
  treeDigest,
  type ActionRun
} from '../harness/run-action.js'
import {
  connectionsIn,
  logMark,
  makeKeyPair,
  openSsh,
  useFleet,
  type KeyPair,
  type TestHost
} from '../harness/sshd.js'
import { startPasswordServer } from '../harness/ssh2-server.js'

// Hosts 0-3 each accept only their own key; hosts 4-9 share the fleet's.
const KEYED = 4
const keys: KeyPair[] = Array.from({ length: KEYED }, (_, index) => makeKeyPair(`host${index}`))
const fleet = useFleet({
  count: 10,
  host: (index) => {
    const own = keys[index]
    return own === undefined ? {} : { authorizedKeys: [own.publicKey] }
  }
})

const host = (index: number): TestHost => fleet.host(index)
/** `user@host:port`, as results name a host. */
const label = (h: TestHost): string => `${fleet.user}@${h.entry}`

/** Inputs for a run that lists its hosts in `inventory` alone, with the fleet's credentials. */
function inventoryInputs(
  inventory: string,
  extra: Record<string, string> = {}
): Record<string, string> {
  return {
    inventory,
    username: fleet.user,
    key: fleet.keys.ed25519,
    'known-hosts': fleet.knownHosts,
    source: '**',
    target: 'app',
    'retry-delay': '100ms',
    ...extra
  }
}

function digestsOf(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [path, sha256(content)]))
}

/** The lines of an OpenSSH private key that are long enough to identify it. */
function secretLines(privateKey: string): string[] {
  return privateKey
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length >= 40 && !line.startsWith('-----'))
}

describe('an inventory of hosts that differ', () => {
  test("the fixture: a host with keys of its own accepts its key alone, not the fleet's or another host's", () => {
    const h0 = host(0)
    const [k0, k1] = keys as [KeyPair, KeyPair]
    const login = ['-p', String(h0.port), `${fleet.user}@${h0.address}`, 'pwd']
    const own = openSsh(fleet, login, k0.privateKey)
    expect(own.status, own.stderr).toBe(0)
    expect(own.stdout.trim()).toBe(h0.home)
    for (const refused of [openSsh(fleet, login), openSsh(fleet, login, k1.privateKey)]) {
      expect(refused.status).not.toBe(0)
      expect(refused.stderr).toContain('Permission denied')
    }
    // And the fleet's shared key still opens the others.
    const shared = openSsh(fleet, [
      '-p',
      String(host(4).port),
      `${fleet.user}@${host(4).address}`,
      'true'
    ])
    expect(shared.status, shared.stderr).toBe(0)
  })

  test('four hosts with their own ports, targets and keys (key-env), in string and map form, with defaults: each gets its files where its entry says; keys stay masked', async () => {
    const [h0, h1, h2, h3] = [host(0), host(1), host(2), host(3)]
    const [k0, k1, k2, k3] = keys as [KeyPair, KeyPair, KeyPair, KeyPair]
    // Precedence, field by field: the host's own, then defaults:, then the action input.
    // user: defaults beat the input (which names no account); key: key-env beats the input's key
    // (no host accepts it); target: the host's own, else defaults', never the input's; port:
    // hosts[4] names none, so the input's applies.
    const inventory = [
      'defaults:',
      `  user: ${fleet.user}`,
      '  key-env: SFD_KEY_DEFAULT',
      '  target: inv-a/default',
      'hosts:',
      `  - ${h0.entry}`,
      `  - host: ${h1.address}`,
      `    port: ${h1.port}`,
      '    key-env: SFD_KEY_ONE',
      '    target: inv-a/one',
      '    labels: [web, eu]',
      `  - host: ${fleet.user}@${h2.entry}`,
      '    key-env: SFD_KEY_TWO',
      '    labels:',
      '      - web',
      '      - us',
      `  - host: ${h3.address}`,
      `    user: ${fleet.user}`,
      "    key-env: 'SFD_KEY_THREE'",
      '    target: inv-a/three',
      ''
    ].join('\n')
    const files = { 'index.html': '<h1>inventory</h1>', 'css/site.css': 'body { margin: 0 }' }
    const run = await runAction(
      inventoryInputs(inventory, {
        username: 'sfd-no-such-user',
        port: String(h3.port),
        target: 'inv-a/input'
      }),
      {
        cwd: workspace(files),
        env: {
          SFD_KEY_DEFAULT: k0.privateKey,
          SFD_KEY_ONE: k1.privateKey,
          SFD_KEY_TWO: k2.privateKey,
          SFD_KEY_THREE: k3.privateKey
        }
      }
    )
    expect(run.code, logOf(run)).toBe(0)

    const expected = digestsOf(files)
    expect(treeDigest(h0.path('inv-a/default'))).toEqual(expected)
    expect(treeDigest(h1.path('inv-a/one'))).toEqual(expected)
    expect(treeDigest(h2.path('inv-a/default'))).toEqual(expected)
    expect(treeDigest(h3.path('inv-a/three'))).toEqual(expected)
    // Each host has its files in its own target and nowhere else.
    expect(existsSync(h1.path('inv-a/default'))).toBe(false)
    expect(existsSync(h3.path('inv-a/default'))).toBe(false)
    for (const h of [h0, h1, h2, h3]) expect(existsSync(h.path('inv-a/input'))).toBe(false)

    // In inventory order, each named user@host:port.
    expect(results(run).map((result) => result.host)).toEqual([h0, h1, h2, h3].map(label))
    for (const result of results(run))
      expect(result, logOf(run)).toMatchObject({ status: 'success', uploaded: 2, attempts: 1 })
    expect(run.outputs['succeeded-count']).toBe('4')
    for (const h of [h0, h1, h2, h3]) expect(run.summary).toContain(label(h))

    // The keys from the environment are masked like `key`, and never printed otherwise.
    const masks = run.stdout.split('\n').filter((line) => line.startsWith('::add-mask::'))
    const printed = run.stdout
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n')
    for (const key of [k0, k1, k2, k3]) {
      const lines = secretLines(key.privateKey)
      expect(lines.length).toBeGreaterThan(0)
      for (const line of lines) {
        expect(
          masks.some((mask) => mask.includes(line)),
          'every line of a key-env key is masked'
        ).toBe(true)
        expect(printed).not.toContain(line)
        expect(run.stderr).not.toContain(line)
      }
    }
  })

  test("a host's key-env is the key used for that host alone: another host's key is refused there, the others deploy", async () => {
    const [h0, h1] = [host(0), host(1)]
    const [k0, k1] = keys as [KeyPair, KeyPair]
    const inventory = JSON.stringify({
      defaults: { user: fleet.user },
      hosts: [
        { host: h0.entry, 'key-env': 'SFD_KEY_ZERO' },
        // Host 1 given host 0's key.
        { host: h1.entry, 'key-env': 'SFD_KEY_ZERO' },
        { host: host(4).entry }
      ]
    })
    const run = await runAction(inventoryInputs(inventory, { target: 'inv-wrong-key' }), {
      cwd: workspace({ 'f.txt': 'per-host key' }),
      env: { SFD_KEY_ZERO: k0.privateKey, SFD_KEY_ONE: k1.privateKey }
    })
    expect(run.code, logOf(run)).toBe(1)
    expect(results(run), logOf(run)).toHaveLength(3)
    const [first, second, third] = results(run)
    expect(first).toMatchObject({ host: label(h0), status: 'success' })
    expect(second, logOf(run)).toMatchObject({
      host: label(h1),
      status: 'failed',
      errorClass: 'auth',
      attempts: 1
    })
    expect(third).toMatchObject({ host: label(host(4)), status: 'success' })
    expect(readFileSync(h0.path('inv-wrong-key/f.txt'), 'utf8')).toBe('per-host key')
    expect(readFileSync(host(4).path('inv-wrong-key/f.txt'), 'utf8')).toBe('per-host key')
    expect(existsSync(h1.path('inv-wrong-key'))).toBe(false)
  })

  test('password-env: a host logs in with the password from the variable it names, masked; a wrong one fails that host alone with auth', async () => {
    const password = 'inv pa55 w0rd'
    const server = await startPasswordServer({ address: '127.0.0.1', user: 'pwuser', password })
    try {
      const inventory = (variable: string): string =>
        JSON.stringify({
          hosts: [
            {
              host: server.entry,
              user: 'pwuser',
              'password-env': variable,
              fingerprint: server.fingerprint
            },
            { host: host(4).entry }
          ]
        })
      const files = { 'p.txt': 'by password-env' }
      const run = await runAction(inventoryInputs(inventory('SFD_PW'), { target: 'inv-pw' }), {
        cwd: workspace(files),
        env: { SFD_PW: password, SFD_PW_WRONG: 'not it at all' }
      })
      expect(run.code, logOf(run)).toBe(0)
      expect(server.methodsTried).toContain('password')
      expect(treeDigest(`${server.home}/inv-pw`)).toEqual(digestsOf(files))
      expect(treeDigest(host(4).path('inv-pw'))).toEqual(digestsOf(files))
      // Masked like `password`, and never printed otherwise.
      expect(run.stdout.split('\n')).toContain(`::add-mask::${password}`)
      const printed = run.stdout
        .split('\n')
        .filter((line) => !line.startsWith('::add-mask::'))
        .join('\n')
      for (const text of [printed, run.stderr, run.summary, JSON.stringify(run.outputs)])
        expect(text).not.toContain(password)

      const wrong = await runAction(
        inventoryInputs(inventory('SFD_PW_WRONG'), { target: 'inv-pw-wrong' }),
        { cwd: workspace(files), env: { SFD_PW: password, SFD_PW_WRONG: 'not it at all' } }
      )
      expect(wrong.code, logOf(wrong)).toBe(1)
      const [refused, other] = results(wrong)
      expect(refused, logOf(wrong)).toMatchObject({ status: 'failed', errorClass: 'auth' })
      expect(other).toMatchObject({ host: label(host(4)), status: 'success' })
      expect(existsSync(`${server.home}/inv-pw-wrong`)).toBe(false)
      expect(
        wrong.stdout
          .split('\n')
          .filter((line) => !line.startsWith('::add-mask::'))
          .join('\n')
      ).not.toContain('not it at all')
    } finally {
      await server.stop()
    }
  })
})

describe('where the inventory comes from', () => {
  test('a YAML file in the workspace, inline JSON, and the host input beside an inventory', async () => {
    const [a, b, c, d] = [host(4), host(5), host(6), host(7)]
    const files = { 'site/a.txt': 'from a file', 'site/b/c.txt': 'nested' }
    const ws = workspace({
      ...files,
      'deploy/hosts.yml': [
        '# The fleet, for the deploy step.',
        'defaults:',
        '  target: inv-b/file',
        'hosts:',
        `  - ${fleet.user}@${a.entry}`,
        `  - { host: ${b.address}, port: ${b.port}, labels: [web] }`,
        ''
      ].join('\n')
    })
    const expected = {
      'a.txt': sha256('from a file'),
      'b/c.txt': sha256('nested')
    }

    const fromFile = await runAction(
      inventoryInputs('deploy/hosts.yml', {
        source: 'site/**',
        'strip-components': '1',
        target: 'inv-b/input'
      }),
      { cwd: ws }
    )
    expect(fromFile.code, logOf(fromFile)).toBe(0)
    expect(results(fromFile).map((result) => result.host)).toEqual([label(a), label(b)])
    for (const h of [a, b]) expect(treeDigest(h.path('inv-b/file'))).toEqual(expected)
    // The inventory file itself is not among what is deployed.
    expect(existsSync(a.path('inv-b/file/deploy'))).toBe(false)

    const inline = JSON.stringify({
      defaults: { target: 'inv-b/json' },
      hosts: [c.entry, { host: a.address, port: a.port, user: fleet.user }]
    })
    const fromJson = await runAction(
      inventoryInputs(inline, { source: 'site/**', 'strip-components': '1' }),
      { cwd: ws }
    )
    expect(fromJson.code, logOf(fromJson)).toBe(0)
    expect(results(fromJson).map((result) => result.host)).toEqual([label(c), label(a)])
    for (const h of [c, a]) expect(treeDigest(h.path('inv-b/json'))).toEqual(expected)
    expect(existsSync(b.path('inv-b/json'))).toBe(false)

    // Both inputs: one list of hosts, each deployed once.
    const both = await runAction(
      inventoryInputs(`hosts:\n  - ${d.entry}\n`, {
        host: c.entry,
        source: 'site/**',
        'strip-components': '1',
        target: 'inv-b/both'
      }),
      { cwd: ws }
    )
    expect(both.code, logOf(both)).toBe(0)
    expect(
      results(both)
        .map((result) => result.host)
        .sort()
    ).toEqual([label(c), label(d)].sort())
    for (const h of [c, d]) expect(treeDigest(h.path('inv-b/both'))).toEqual(expected)
  })
})

/** Hosts 4-8 with labels, for select. */
function labelledInventory(): { readonly text: string; readonly hosts: TestHost[] } {
  const hosts = [host(4), host(5), host(6), host(7), host(8)]
  const labels: (readonly string[] | undefined)[] = [
    ['web', 'eu'],
    ['web', 'us'],
    ['db', 'eu'],
    ['eu', 'canary', 'web'],
    undefined
  ]
  return {
    hosts,
    text: JSON.stringify({
      hosts: hosts.map((h, index) => {
        const own = labels[index]
        return own === undefined ? h.entry : { host: h.entry, labels: own }
      })
    })
  }
}

describe('select', () => {
  test('only the hosts carrying every selected label are deployed; the others are not touched', async () => {
    const inventory = labelledInventory()
    const [web1, web2, db, canary, bare] = inventory.hosts as [
      TestHost,
      TestHost,
      TestHost,
      TestHost,
      TestHost
    ]
    const ws = workspace({ 'f.txt': 'selected' })

    const run = await runAction(
      inventoryInputs(inventory.text, { select: 'web, eu', target: 'sel-web-eu' }),
      { cwd: ws }
    )
    expect(run.code, logOf(run)).toBe(0)
    expect(results(run).map((result) => result.host)).toEqual([label(web1), label(canary)])
    for (const h of [web1, canary])
      expect(readFileSync(h.path('sel-web-eu/f.txt'), 'utf8')).toBe('selected')
    for (const h of [web2, db, bare]) expect(existsSync(h.path('sel-web-eu'))).toBe(false)

    // Labels separated by newlines.
    const byLines = await runAction(
      inventoryInputs(inventory.text, { select: 'eu\ndb\n', target: 'sel-eu-db' }),
      { cwd: ws }
    )
    expect(byLines.code, logOf(byLines)).toBe(0)
    expect(results(byLines).map((result) => result.host)).toEqual([label(db)])
    for (const h of [web1, web2, canary, bare]) expect(existsSync(h.path('sel-eu-db'))).toBe(false)
  })

  test('shards slice the selected hosts: 1/2 and 2/2 of `select: web` cover the web hosts once', async () => {
    const inventory = labelledInventory()
    const web = [0, 1, 3].map((index) => inventory.hosts[index] as TestHost)
    const ws = workspace({ 'f.txt': 'selected shard' })
    const runs = await Promise.all(
      ['1/2', '2/2'].map((shard) =>
        runAction(inventoryInputs(inventory.text, { select: 'web', shard, target: 'sel-shard' }), {
          cwd: ws
        })
      )
    )
    for (const run of runs) expect(run.code, logOf(run)).toBe(0)
    const slices = runs.map((run) => results(run).map((result) => result.host))
    expect(slices.map((slice) => slice.length).sort()).toEqual([1, 2])
    expect(slices.flat().sort()).toEqual(web.map(label).sort())
    for (const h of web)
      expect(readFileSync(h.path('sel-shard/f.txt'), 'utf8')).toBe('selected shard')
    for (const index of [2, 4])
      expect(existsSync((inventory.hosts[index] as TestHost).path('sel-shard'))).toBe(false)
  })
})

interface BadCase {
  readonly name: string
  /** The inventory input; `a` and `b` are fleet hosts with the shared key. */
  readonly inventory: (a: TestHost, b: TestHost) => string
  readonly inputs?: (a: TestHost, b: TestHost) => Record<string, string>
  /** What the step's error must say (each piece, anywhere in one `::error` line). */
  readonly says: (a: TestHost, b: TestHost) => readonly (string | RegExp)[]
}

const INVENTORY = "Input 'inventory'"

/** A valid first entry and a second one with `lines` (YAML, indented under `- `). */
const secondEntry =
  (...lines: string[]) =>
  (a: TestHost, b: TestHost): string =>
    [
      'hosts:',
      `  - ${a.entry}`,
      `  - host: ${b.address}`,
      ...lines.map((line) => `    ${line}`),
      ''
    ].join('\n')

const BAD: readonly BadCase[] = [
  {
    name: 'an entry without host',
    inventory: (a, b) => `hosts:\n  - ${a.entry}\n  - port: ${b.port}\n    labels: [web]\n`,
    says: () => [INVENTORY, 'hosts[2]', "'host'"]
  },
  {
    name: 'a port that is not a number',
    inventory: secondEntry('port: twenty-two'),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'port'"]
  },
  {
    name: 'a port out of range',
    inventory: secondEntry('port: 70000'),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'port'"]
  },
  {
    name: 'a user that is a list',
    inventory: (a, b) => secondEntry(`port: ${b.port}`, 'user: [deploy, admin]')(a, b),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'user'"]
  },
  {
    name: 'an entry that is a number',
    inventory: (a) => `hosts:\n  - ${a.entry}\n  - 42\n`,
    says: () => [INVENTORY, 'hosts[2]']
  },
  {
    name: 'hosts that is not a list',
    inventory: (a) => `hosts: ${a.entry}\ndefaults:\n  labels: [web]\n`,
    says: () => [INVENTORY, "'hosts'"]
  },
  {
    name: 'defaults that is a list',
    inventory: (a) => `defaults:\n  - labels: [web]\nhosts:\n  - ${a.entry}\n`,
    says: () => [INVENTORY, 'defaults']
  },
  {
    name: 'an unknown field (a typo of user)',
    inventory: (a, b) => secondEntry(`port: ${b.port}`, 'usr: deploy')(a, b),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'usr'"]
  },
  {
    name: 'an unknown field in defaults',
    inventory: (a, b) => `defaults:\n  prot: 22\nhosts:\n  - ${a.entry}\n  - ${b.entry}\n`,
    says: () => [INVENTORY, 'defaults', "'prot'"]
  },
  {
    name: 'the same host twice',
    inventory: (a, b) => `hosts:\n  - ${a.entry}\n  - ${b.entry}\n  - ${a.entry}\n`,
    says: (a) => [INVENTORY, 'hosts[3]', a.address]
  },
  {
    name: 'the same host in the host input and the inventory',
    inventory: (a, b) => `hosts:\n  - ${b.entry}\n  - ${a.entry}\n`,
    inputs: (a) => ({ host: a.entry }),
    says: (a) => [a.address]
  },
  {
    name: 'a key-env naming an unset variable',
    inventory: (a, b) => secondEntry(`port: ${b.port}`, 'key-env: SFD_TEST_UNSET_KEY')(a, b),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'key-env'", 'SFD_TEST_UNSET_KEY']
  },
  {
    name: 'labels that are not a list',
    inventory: (a, b) => secondEntry(`port: ${b.port}`, 'labels: web')(a, b),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'labels'"]
  },
  {
    name: 'a fingerprint that is a map',
    inventory: (a, b) => secondEntry(`port: ${b.port}`, 'fingerprint: { sha256: abc }')(a, b),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'fingerprint'"]
  },
  {
    name: 'a jump item without host',
    inventory: (a, b) => secondEntry(`port: ${b.port}`, 'jump:', '  - user: deploy')(a, b),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'jump'"]
  },
  {
    name: 'a jump item that is a number',
    inventory: (a, b) => secondEntry(`port: ${b.port}`, 'jump: [42]')(a, b),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, "'jump'"]
  },
  {
    name: 'a jump entry with a port out of range',
    inventory: (a, b) => secondEntry(`port: ${b.port}`, "jump: 'deploy@bastion:99999'")(a, b),
    says: (_, b) => [INVENTORY, 'hosts[2]', b.address, /jump/]
  },
  {
    name: 'not YAML at all',
    inventory: (a) => `hosts: [${a.entry}\n  - {: :\n`,
    says: () => [INVENTORY]
  },
  {
    name: 'text that is not a map of hosts',
    inventory: () => '<inventory>\n  <host>web1</host>\n</inventory>\n',
    says: () => [INVENTORY, /hosts/]
  },
  {
    name: 'broken JSON',
    inventory: (a) => `{"hosts": ["${a.entry}", }`,
    says: () => [INVENTORY]
  },
  {
    name: 'a path to a missing file',
    inventory: () => 'deploy/missing-inventory.yml',
    says: () => [INVENTORY, 'deploy/missing-inventory.yml']
  },
  {
    name: 'select matching no host',
    inventory: (a, b) =>
      JSON.stringify({ hosts: [{ host: a.entry, labels: ['web'] }, { host: b.entry }] }),
    inputs: () => ({ select: 'web, nowhere' }),
    says: () => [/select/]
  },
  {
    name: 'a shard beyond its count',
    inventory: (a, b) => JSON.stringify({ hosts: [a.entry, b.entry] }),
    inputs: () => ({ shard: '4/3' }),
    says: () => [/shard/, '4/3']
  },
  {
    name: 'a shard that is not i/n',
    inventory: (a, b) => JSON.stringify({ hosts: [a.entry, b.entry] }),
    inputs: () => ({ shard: 'half' }),
    says: () => [/shard/]
  }
]

describe('a bad inventory, select or shard fails the step before any connection', () => {
  test.each(BAD.map((row, index) => [row.name, index, row] as const))(
    '%s',
    async (_, index, row) => {
      const [a, b] = [host(4), host(5)]
      // Its own target, so that a row that wrongly deploys cannot fail the next ones.
      const target = `bad-${index}`
      const marks = fleet.hosts.map((h) => logMark(h))
      const run = await runAction(
        inventoryInputs(row.inventory(a, b), {
          target,
          retries: '0',
          ...row.inputs?.(a, b)
        }),
        { cwd: workspace({ 'f.txt': 'never sent' }) }
      )
      expect(run.code, logOf(run)).toBe(1)
      const errors = errorAnnotations(run)
      const says = row.says(a, b)
      expect(
        errors.some((line) =>
          says.every((piece) =>
            typeof piece === 'string' ? line.includes(piece) : piece.test(line)
          )
        ),
        `one ::error line has all of ${says.map(String).join(' | ')}:\n${errors.join('\n')}`
      ).toBe(true)
      // No host was contacted, and nothing is written anywhere.
      fleet.hosts.forEach((h, at) => {
        const since = marks[at]?.() ?? ''
        expect(connectionsIn(since), `host ${h.entry}: ${since}`).toBe(0)
        expect(existsSync(h.path(target))).toBe(false)
      })
    }
  )
})

/** Runs shard 1/n … n/n of `inventory` side by side, as a matrix does. */
function runShards(inventory: string, n: number, target: string, ws: string): Promise<ActionRun[]> {
  return Promise.all(
    Array.from({ length: n }, (_, index) =>
      runAction(inventoryInputs(inventory, { shard: `${index + 1}/${n}`, target }), { cwd: ws })
    )
  )
}

describe('shards: a matrix of n jobs deploys each host exactly once', () => {
  const pool = (): TestHost[] => [4, 5, 6, 7, 8, 9].map(host)

  test.each([1, 2, 3, 4, 5, 6])(
    '%i host(s), n = 1 to 4: balanced slices in input order whose union is every host once',
    async (count) => {
      const hosts = pool().slice(0, count)
      const labels = hosts.map(label)
      // Mixed forms, so that the order is the inventory's and not the entries' text.
      const inventory = JSON.stringify({
        hosts: hosts.map((h, index) => (index % 2 === 0 ? h.entry : { host: h.entry }))
      })
      for (const n of [1, 2, 3, 4]) {
        const target = `shard/h${count}-n${n}`
        const content = `${count} host(s) in ${n} shard(s)`
        const runs = await runShards(inventory, n, target, workspace({ 'f.txt': content }))
        const slices = runs.map((run, index) => {
          expect(run.code, `shard ${index + 1}/${n}: ${logOf(run)}`).toBe(0)
          expect(run.outputs.results, `shard ${index + 1}/${n} sets results`).toBeDefined()
          for (const result of results(run)) expect(result.status).toBe('success')
          return results(run).map((result) => result.host)
        })
        // Every host exactly once across the jobs.
        expect(slices.flat().sort(), `n = ${n}`).toEqual([...labels].sort())
        // Balanced.
        const sizes = slices.map((slice) => slice.length)
        expect(Math.max(...sizes) - Math.min(...sizes), `sizes ${sizes.join(', ')}`).toBeLessThan(2)
        // Each slice keeps the inventory's order.
        for (const slice of slices)
          expect(slice).toEqual(labels.filter((entry) => slice.includes(entry)))
        // A job with no host succeeds, reports none, and says so.
        runs.forEach((run, index) => {
          if ((slices[index] ?? []).length > 0) return
          expect(run.outputs.results).toBe('[]')
          expect(
            run.stdout
              .split('\n')
              .some((line) => line.startsWith('::notice') && /shard/i.test(line)),
            logOf(run)
          ).toBe(true)
        })
        if (n > count) expect(sizes).toContain(0)
        for (const h of hosts) expect(readFileSync(h.path(`${target}/f.txt`), 'utf8')).toBe(content)
      }
    }
  )

  test('the same shard of the same inventory is the same hosts in every job', async () => {
    const inventory = JSON.stringify({
      hosts: pool()
        .slice(0, 5)
        .map((h) => h.entry)
    })
    const ws = workspace({ 'f.txt': 'again' })
    const first = await runAction(inventoryInputs(inventory, { shard: '2/3', target: 'again' }), {
      cwd: ws
    })
    const second = await runAction(inventoryInputs(inventory, { shard: '2/3', target: 'again' }), {
      cwd: ws
    })
    expect(first.code, logOf(first)).toBe(0)
    expect(second.code, logOf(second)).toBe(0)
    const hostsOf = (run: ActionRun): string[] => results(run).map((result) => result.host)
    expect(hostsOf(first).length).toBeGreaterThan(0)
    expect(hostsOf(second)).toEqual(hostsOf(first))
  })
})
