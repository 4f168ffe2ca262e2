// The inventory, select and shard: what a job deploys, and every mistake named before anything
// connects.

import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { describe, expect, test } from 'vitest'
import { resolveDestinations, type HostListInputs } from '../../src/config/destinations.js'
import { isInventoryText, parseInventory } from '../../src/config/inventory.js'
import { parseShard, shardSlice } from '../../src/config/shard.js'
import type { Credentials } from '../../src/config/settings.js'

const runKey: Credentials = {
  privateKey: 'run key',
  passphrase: undefined,
  password: undefined,
  description: 'ssh-ed25519 key'
}

const pem = (): string =>
  generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()

function resolve(inventory: string, overrides: Partial<HostListInputs> = {}) {
  return resolveDestinations({
    host: '',
    port: 22,
    username: 'deploy',
    target: '/srv/www',
    jump: '',
    select: '',
    shard: '',
    inventory: parseInventory(inventory),
    credentials: runKey,
    hostKeys: { mode: 'insecure' },
    knownHosts: [],
    passphrase: undefined,
    variables: {},
    ...overrides
  })
}

describe('the inventory', () => {
  test("each field: the host's own, then defaults, then the input", () => {
    const webKey = pem()
    const { hosts, secrets } = resolve(
      [
        'defaults:',
        '  user: ops',
        '  port: 2200',
        '  jump: bastion.example.com',
        'hosts:',
        '  - web1.example.com',
        '  - host: web2.example.com',
        '    user: www',
        '    port: 2222',
        '    target: ~/site',
        '    key-env: WEB_KEY',
        '    labels: [eu, web]',
        '    jump: [{ host: b1, user: jumper, port: 2022 }, b2]',
        '  - admin@db.example.com:2300'
      ].join('\n'),
      { variables: { WEB_KEY: webKey } }
    )
    expect(hosts.map((host) => host.label)).toEqual([
      'ops@web1.example.com:2200',
      'www@web2.example.com:2222',
      'admin@db.example.com:2300'
    ])
    expect(hosts.map((host) => host.target)).toEqual(['/srv/www', 'site', '/srv/www'])
    expect(hosts[0]?.jump.map((hop) => hop.label)).toEqual(['ops@bastion.example.com:22'])
    expect(hosts[1]?.jump.map((hop) => hop.label)).toEqual(['jumper@b1:2022', 'ops@b2:22'])
    expect(hosts[0]?.credentials).toBe(runKey)
    expect(hosts[1]?.credentials.description).toBe('ssh-ed25519 key from WEB_KEY')
    // The hop without a key of its own uses the run's.
    expect(hosts[1]?.jump[0]?.credentials).toBe(runKey)
    expect(hosts[1]?.labels).toEqual(['eu', 'web'])
    // The key's text, and the key as ssh2 takes it, are masked.
    expect(secrets).toContain(webKey)
  })

  test('JSON too, and a host input beside it', () => {
    const { hosts } = resolve('{"hosts": ["a.example.com", {"host": "b.example.com"}]}', {
      host: 'c.example.com'
    })
    expect(hosts.map((host) => host.host)).toEqual([
      'c.example.com',
      'a.example.com',
      'b.example.com'
    ])
  })

  test.each([
    ['hosts: [{ user: x }]', /hosts\[1\]: 'host' is missing/],
    ['hosts: [{ host: a, usr: x }]', /hosts\[1\] \(a\): unknown field 'usr'/],
    ['hosts: [{ host: a, port: 99999 }]', /hosts\[1\] \(a\): 'port' must be a port number/],
    ['hosts: [{ host: a, port: [1] }]', /hosts\[1\] \(a\): 'port' must be a port number .*a list/],
    ['hosts: [a, { host: b, labels: web }]', /hosts\[2\] \(b\): 'labels' must be a list/],
    ['hosts: [a, a]', /hosts\[2\] \(a\) duplicates hosts\[1\] \(a\)/],
    [
      'hosts: [{ host: a, key-env: UNSET }]',
      /hosts\[1\] \(a\): 'key-env' names UNSET, which is not set/
    ],
    [
      'hosts: [{ host: a, key-env: "not a name" }]',
      /hosts\[1\] \(a\): 'key-env' must be the name of an environment variable/
    ],
    ['hosts: [{ host: a, jump: [{ port: 22 }] }]', /hosts\[1\] \(a\): a 'jump' item has no 'host'/],
    ['hosts: [{ host: a, jump: "x@" }]', /hosts\[1\] \(a\): 'jump': hop 1 \(x@\): 'host':/],
    [
      'hosts: [{ host: "a b" }]',
      /hosts\[1\] \(a b\): 'host': entry 'a b' is not a valid host name/
    ],
    ['defaults: { prot: 22 }\nhosts: [a]', /defaults: unknown field 'prot'/],
    ['defaults: { host: a }\nhosts: [b]', /defaults: unknown field 'host'/],
    ['hosts: a', /'hosts' must be a list of entries, got string "a"/],
    ['defaults: {}', /'hosts' must be a list of entries, got nothing/],
    ['hosts: [a]\nextra: 1', /the top level: unknown field 'extra'/],
    ['hosts: [a', /is not valid YAML or JSON/],
    ['[1, 2]', /must be a map with 'hosts:'/],
    ['hosts: [a, a]\nhosts: [b]', /the top level: 'hosts' is given twice \(line 2\)/],
    [
      'hosts:\n  - host: a\n    port: 22\n    port: 23',
      /hosts\[1\] \(a\): 'port' is given twice \(line 4\)/
    ],
    [
      '{"hosts": [{"host": "x", "user": "a", "user": "b"}]}',
      /hosts\[1\] \(x\): 'user' is given twice/
    ],
    ['defaults:\n  user: a\n  user: b\nhosts: [x]', /defaults: 'user' is given twice \(line 3\)/],
    ['hosts: [a]\nfoo: [b\n', /is not valid YAML or JSON \(line \d\)/],
    [
      'hosts: [{ host: a, fingerprint: nope }]',
      /hosts\[1\] \(a\): 'fingerprint': 'nope' is not a host key fingerprint/
    ]
  ])('%j is refused: %s', (inventory, message) => {
    expect(() => resolve(inventory)).toThrow(/^Input 'inventory': /)
    expect(() => resolve(inventory)).toThrow(message)
  })

  test('a host without a user, a target, credentials or host keys is named', () => {
    expect(() => resolve('hosts: [a]', { username: undefined })).toThrow(
      /Input 'inventory': hosts\[1\] \(a\): no 'user'/
    )
    expect(() => resolve('hosts: [a]', { target: undefined })).toThrow(
      /Input 'inventory': hosts\[1\] \(a\): no 'target'/
    )
    expect(() => resolve('hosts: [a]', { credentials: undefined })).toThrow(
      /Input 'inventory': hosts\[1\] \(a\): no credentials/
    )
    expect(() => resolve('hosts: [a]', { hostKeys: undefined })).toThrow(
      /Input 'inventory': hosts\[1\] \(a\): no host key to check it against/
    )
    // A host's own fingerprint is enough.
    const pinned = resolve(
      'hosts: [{ host: a, fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU" }]',
      { hostKeys: undefined }
    )
    expect(pinned.hosts[0]?.hostKeys).toMatchObject({ mode: 'verify' })
  })

  test('the input is text, or the path of a file', () => {
    expect(isInventoryText('hosts: [a]')).toBe(true)
    expect(isInventoryText('{"hosts": []}')).toBe(true)
    expect(isInventoryText('defaults:\n  user: x\nhosts: [a]')).toBe(true)
    expect(isInventoryText('deploy/fleet.yml')).toBe(false)
  })
})

describe('select and shard', () => {
  const fleet = [
    'hosts:',
    '  - { host: a, labels: [eu, web] }',
    '  - { host: b, labels: [eu, db] }',
    '  - { host: c, labels: [us, web] }',
    '  - { host: d, labels: [eu, web, canary] }'
  ].join('\n')

  test('select: the hosts that carry every label', () => {
    expect(resolve(fleet, { select: 'eu, web' }).hosts.map((host) => host.host)).toEqual(['a', 'd'])
    expect(() => resolve(fleet, { select: 'eu, api' })).toThrow(
      /Input 'select': no host carries every one of the labels eu, api/
    )
  })

  test('for 1-10 hosts and 1-4 shards: every host once, sizes within one of each other', () => {
    for (let count = 1; count <= 10; count += 1)
      for (let shards = 1; shards <= 4; shards += 1) {
        const hosts = Array.from({ length: count }, (_, index) => index)
        const slices = Array.from({ length: shards }, (_, index) =>
          shardSlice(hosts, { index: index + 1, count: shards })
        )
        expect(slices.flat(), `${count} hosts, ${shards} shards`).toEqual(hosts)
        const sizes = slices.map((slice) => slice.length)
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
      }
  })

  test('shard after select; a shard with no host says so', () => {
    const first = resolve(fleet, { select: 'web', shard: '1/2' })
    expect(first.hosts.map((host) => host.host)).toEqual(['a', 'c'])
    const second = resolve(fleet, { select: 'web', shard: '2/2' })
    expect(second.hosts.map((host) => host.host)).toEqual(['d'])
    expect(second.notices).toEqual(['shard 2/2: 1 of 3 host(s)'])
    const empty = resolve('hosts: [a]', { shard: '2/2' })
    expect(empty.hosts).toEqual([])
    expect(empty.notices[0]).toMatch(/more shards than hosts/)
  })

  test.each(['0/2', '3/2', '1', '1/0', 'a/b', '1/2/3'])('shard %j is refused', (text) => {
    expect(() => parseShard(text)).toThrow(/Input 'shard': .* write i\/n/)
  })

  test("README's inventory example resolves: each host's key reaches its jump host too", () => {
    const readme = readFileSync(resolvePath(import.meta.dirname, '../../README.md'), 'utf8')
    const block = /inventory: \|\n((?: {6}.*\n)+)/.exec(readme)?.[1] ?? ''
    const yaml = block.replace(/^ {6}/gm, '')
    const keys = { EU_KEY: pem(), US_KEY: pem() }
    const { hosts } = resolve(yaml, { credentials: undefined, variables: keys, select: 'web' })
    expect(hosts.map((host) => host.label)).toEqual([
      'deploy@web1.eu.example.com:22',
      'deploy@web2.us.example.com:2222'
    ])
    expect(hosts[0]?.jump[0]?.credentials.description).toBe('ssh-ed25519 key from EU_KEY')
    expect(hosts[1]?.jump[0]?.credentials.description).toBe('ssh-ed25519 key from US_KEY')
  })

  test('select first: the keys of hosts this job does not deploy are not read', () => {
    const inventory =
      'hosts:\n  - { host: eu1, key-env: EU_KEY, labels: [eu] }\n  - { host: us1, key-env: US_KEY, labels: [us] }'
    const { hosts } = resolve(inventory, { select: 'eu', variables: { EU_KEY: pem() } })
    expect(hosts.map((host) => host.host)).toEqual(['eu1'])
    // A mistake that needs no secret is still found in every entry.
    expect(() =>
      resolve(`${inventory}\n  - { host: x, prot: 1 }`, {
        select: 'eu',
        variables: { EU_KEY: pem() }
      })
    ).toThrow(/hosts\[3\] \(x\): unknown field 'prot'/)
  })

  test('one address behind two bastions is two hosts, named by their routes', () => {
    const { hosts } = resolve(
      'hosts:\n  - { host: 10.0.0.5, jump: eu-bastion }\n  - { host: 10.0.0.5, jump: us-bastion }'
    )
    expect(hosts.map((host) => host.label)).toEqual([
      'deploy@10.0.0.5:22 via deploy@eu-bastion:22',
      'deploy@10.0.0.5:22 via deploy@us-bastion:22'
    ])
    expect(() =>
      resolve('hosts:\n  - { host: 10.0.0.5, jump: b }\n  - { host: 10.0.0.5, jump: b }')
    ).toThrow(
      /hosts\[2\] \(10.0.0.5\) duplicates hosts\[1\] \(10.0.0.5\) \(both are deploy@10.0.0.5:22 by the same jump hosts\)/
    )
  })

  test("an entry's text and its own fields must agree", () => {
    expect(() => resolve('hosts: [{ host: root@web1, user: deploy }]')).toThrow(
      /hosts\[1\] \(root@web1\): 'root@web1' names the user root, and 'user' says deploy/
    )
    expect(() => resolve('hosts: [{ host: web1:2200, port: 22 }]')).toThrow(
      /'web1:2200' names the port 2200, and 'port' says 22/
    )
    // defaults give way to the entry's text.
    expect(resolve('defaults: { user: ops }\nhosts: [root@web1]').hosts[0]?.user).toBe('root')
  })
})
