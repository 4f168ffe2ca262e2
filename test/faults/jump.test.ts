// Jump hosts: deploys through one and two bastion sshds, proven by the bastions' own logs (each
// forwarded connection), and the ways a chain fails: a wrong bastion host key, a bastion that
// refuses to forward, a dead second hop, a first hop that refuses the login or the connection
// or never speaks SSH, a cut or a stall on the bastion link mid-transfer. A failing chain fails
// its host alone, names the hop, and writes nothing there.

import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  logOf,
  results,
  runAction,
  sha256,
  treeDigest,
  type ActionRun,
  type HostResultOutput
} from '../harness/run-action.js'
import {
  BASTION_CONFIG,
  NO_FORWARDING_CONFIG,
  connectionsIn,
  forwardedConnections,
  loginsIn,
  logMark,
  makeKeyPair,
  openSsh,
  useFleet,
  type TestHost
} from '../harness/sshd.js'
import { startSilentListener } from '../harness/ssh2-server.js'
import { startProxy } from '../harness/tcp-proxy.js'

const BASTION = 0
const BASTION_2 = 1
const TARGETS = [2, 3, 4] as const
const NO_FORWARDING = 5
const DIRECT = 6
const DYING_HOP = 7

const fleet = useFleet({
  count: 8,
  host: (index) =>
    index === NO_FORWARDING
      ? { config: NO_FORWARDING_CONFIG }
      : [BASTION, BASTION_2, DYING_HOP].includes(index)
        ? { config: BASTION_CONFIG }
        : {}
})

const host = (index: number): TestHost => fleet.host(index)
const target = (n: 0 | 1 | 2): TestHost => host(TARGETS[n])
/** `user@host:port`, as results and errors name a host or a hop. */
const label = (h: { readonly entry: string }): string => `${fleet.user}@${h.entry}`

/** The `address:port` targets of the connections a bastion forwarded in a stretch of its log. */
function forwardedTo(log: string): string[] {
  return forwardedConnections(log).map((connection) => connection.target)
}

/** A known_hosts text in which `h`'s entry carries another host's key instead of its own. */
function knownHostsWithWrongKeyFor(h: TestHost, other: TestHost): string {
  const otherKey = other.knownHosts.split(/\s+/).slice(1, 3).join(' ')
  return fleet.hosts
    .map((each) => (each === h ? `[${h.address}]:${h.port} ${otherKey}` : each.knownHosts))
    .join('\n')
}

/** Leftover temporary files (`.sfd-tmp`) below a directory. */
function temporaries(dir: string): string[] {
  if (!existsSync(dir)) return []
  return Object.keys(treeDigest(dir)).filter((path) => path.endsWith('.sfd-tmp'))
}

const MiB = 1024 * 1024

/** A loopback port that nothing listens on: taken by a listener, which then closes. */
async function closedPort(address: string): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, address, () => resolve()))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Deploys `files` to the hosts of `inventory` (alone: no `host` input), into `target`. */
function deployInventory(
  inventory: string,
  target: string,
  files: Record<string, string>,
  extra: Record<string, string> = {},
  env: Record<string, string> = {}
): Promise<ActionRun> {
  return runAction(
    { ...fleetInputs(fleet, []), host: '', inventory, target, ...extra },
    { cwd: workspace(files), env }
  )
}

/**
 * A run in which `behind`, its first host, failed at a hop of its chain: of `errorClass`, after
 * `attempts`, its error naming the hop (`jump host <hop> (hop i of n)`) and saying `how`.
 * Returns the error and the other hosts' results.
 */
function expectHopFailure(
  run: ActionRun,
  failure: {
    readonly behind: TestHost
    readonly hop: string
    readonly at: string
    readonly errorClass: string
    readonly attempts: number
    readonly how: RegExp
  }
): { error: string; others: HostResultOutput[] } {
  expect(run.code, logOf(run)).toBe(1)
  const [failed, ...others] = results(run)
  expect(failed, logOf(run)).toMatchObject({
    host: label(failure.behind),
    status: 'failed',
    errorClass: failure.errorClass,
    attempts: failure.attempts
  })
  const error = failed?.error ?? ''
  expect(error).toContain(`jump host ${failure.hop} (${failure.at})`)
  expect(error).toMatch(failure.how)
  return { error, others }
}

describe('the fixture', () => {
  test("OpenSSH's ssh -J reaches a host through the bastion, whose log shows the forwarded connection; the other bastion refuses to forward", () => {
    const [bastion, refusing, behind] = [host(BASTION), host(NO_FORWARDING), target(0)]
    const login = ['-p', String(behind.port), `${fleet.user}@${behind.address}`, 'pwd']
    const log = logMark(bastion)
    const through = openSsh(fleet, ['-J', label(bastion), ...login])
    expect(through.status, through.stderr).toBe(0)
    expect(through.stdout.trim()).toBe(behind.home)
    expect(forwardedTo(log()), log()).toContain(behind.entry)

    const refusedLog = logMark(refusing)
    const refused = openSsh(fleet, ['-J', label(refusing), ...login])
    expect(refused.status).not.toBe(0)
    expect(refused.stderr).toContain('administratively prohibited')
    expect(forwardedTo(refusedLog())).toContain(behind.entry)
    expect(refusedLog()).toContain('refused local port forward')
  })
})

describe('deploying through jump hosts', () => {
  test('one hop: two hosts behind a bastion are reached through it; results and summary name the chain', async () => {
    const bastion = host(BASTION)
    const hosts = [target(0), target(1)]
    const files = { 'index.html': 'through the bastion', 'js/app.js': 'void 0' }
    const forwarded = logMark(bastion)
    const run = await runAction(
      fleetInputs(fleet, hosts, { jump: label(bastion), target: 'jump-one' }),
      { cwd: workspace(files) }
    )
    expect(run.code, logOf(run)).toBe(0)
    const expected = Object.fromEntries(
      Object.entries(files).map(([path, content]) => [path, sha256(content)])
    )
    for (const h of hosts) expect(treeDigest(h.path('jump-one'))).toEqual(expected)

    // The route: the bastion's own log has a forwarded connection to each host.
    const route = forwardedTo(forwarded())
    for (const h of hosts) expect(route, forwarded()).toContain(h.entry)

    expect(results(run).map((result) => result.host)).toEqual(hosts.map(label))
    for (const result of results(run))
      expect(result).toMatchObject({ status: 'success', jump: [label(bastion)] })
    expect(run.summary).toContain(label(bastion))
  })

  test('two hops (bastion, then bastion2, then the host) from the inventory, beside a direct host', async () => {
    const [first, second] = [host(BASTION), host(BASTION_2)]
    const [behind, direct] = [target(2), host(DIRECT)]
    const inventory = [
      'hosts:',
      `  - host: ${behind.entry}`,
      '    jump:',
      `      - ${label(first)}`,
      `      - { host: ${second.address}, port: ${second.port}, user: ${fleet.user} }`,
      `  - ${direct.entry}`,
      ''
    ].join('\n')
    const [firstLog, secondLog] = [logMark(first), logMark(second)]
    const run = await runAction(
      { ...fleetInputs(fleet, []), inventory, host: '', target: 'jump-two' },
      { cwd: workspace({ 'two.txt': 'two hops' }) }
    )
    expect(run.code, logOf(run)).toBe(0)
    for (const h of [behind, direct])
      expect(readFileSync(h.path('jump-two/two.txt'), 'utf8')).toBe('two hops')

    // Each hop is reached through the one before: the first bastion forwards to the second,
    // the second to the host.
    expect(forwardedTo(firstLog()), firstLog()).toContain(second.entry)
    expect(forwardedTo(firstLog())).not.toContain(behind.entry)
    expect(forwardedTo(secondLog()), secondLog()).toContain(behind.entry)

    const [viaJump, plain] = results(run)
    expect(viaJump).toMatchObject({
      host: label(behind),
      status: 'success',
      jump: [label(first), label(second)]
    })
    expect(plain).toMatchObject({ host: label(direct), status: 'success' })
    expect(plain?.jump).toBeUndefined()
    expect(run.summary).toContain(label(second))
  })

  test('bastion connections are shared: three hosts behind one bastion log in to it fewer than three times', async () => {
    const bastion = host(BASTION)
    const hosts = [target(0), target(1), target(2)]
    const log = logMark(bastion)
    const run = await runAction(
      fleetInputs(fleet, hosts, { jump: label(bastion), target: 'jump-shared' }),
      { cwd: workspace({ 'shared.txt': 'one bastion connection' }) }
    )
    expect(run.code, logOf(run)).toBe(0)
    for (const h of hosts)
      expect(readFileSync(h.path('jump-shared/shared.txt'), 'utf8')).toBe('one bastion connection')
    for (const result of results(run)) expect(result.attempts).toBe(1)
    const since = log()
    const route = forwardedTo(since)
    for (const h of hosts) expect(route, since).toContain(h.entry)
    expect(loginsIn(since), since).toBeGreaterThanOrEqual(1)
    expect(loginsIn(since), since).toBeLessThan(hosts.length)
  })
})

describe('a jump chain that fails fails its host alone, names the hop, writes nothing there', () => {
  test('a wrong bastion host key: host-key, once, with the hop and its real fingerprint; a direct host deploys', async () => {
    const bastion = host(BASTION)
    const [behind, direct] = [target(0), host(DIRECT)]
    const inventory = JSON.stringify({
      hosts: [{ host: behind.entry, jump: label(bastion) }, direct.entry]
    })
    const [bastionLog, behindLog] = [logMark(bastion), logMark(behind)]
    const run = await runAction(
      {
        ...fleetInputs(fleet, []),
        host: '',
        inventory,
        'known-hosts': knownHostsWithWrongKeyFor(bastion, direct),
        target: 'jump-wrong-key'
      },
      { cwd: workspace({ 'k.txt': 'never through a wrong bastion' }) }
    )
    const { error, others } = expectHopFailure(run, {
      behind,
      hop: label(bastion),
      at: 'hop 1 of 1',
      errorClass: 'host-key',
      attempts: 1,
      how: /host key/
    })
    const [deployed] = others
    expect(error).toContain(bastion.fingerprints[0])
    expect(deployed).toMatchObject({ host: label(direct), status: 'success' })
    expect(readFileSync(direct.path('jump-wrong-key/k.txt'), 'utf8')).toBe(
      'never through a wrong bastion'
    )
    // The bastion forwarded nothing; the host behind it saw no connection at all.
    expect(forwardedTo(bastionLog())).toEqual([])
    expect(connectionsIn(behindLog())).toBe(0)
    expect(existsSync(behind.path('jump-wrong-key'))).toBe(false)
  })

  test('bastion host keys come from known-hosts or fingerprint: unlisted fails closed, a fingerprint lets it through', async () => {
    const bastion = host(BASTION)
    const behind = target(1)
    const ws = workspace({ 'fp.txt': 'pinned bastion' })

    // known-hosts without the bastion: fail closed, naming the hop and its real key.
    const unlisted = await runAction(
      fleetInputs(fleet, [behind], {
        jump: label(bastion),
        'known-hosts': behind.knownHosts,
        target: 'jump-unlisted'
      }),
      { cwd: ws }
    )
    expect(unlisted.code, logOf(unlisted)).toBe(1)
    const [refused] = results(unlisted)
    expect(refused, logOf(unlisted)).toMatchObject({
      status: 'failed',
      errorClass: 'host-key',
      attempts: 1
    })
    expect(refused?.error).toContain('jump host')
    expect(refused?.error).toContain(label(bastion))
    expect(refused?.error).toContain(bastion.fingerprints[0])
    expect(existsSync(behind.path('jump-unlisted'))).toBe(false)

    // Fingerprints alone, the bastion's among them.
    const pinned = await runAction(
      fleetInputs(fleet, [behind], {
        jump: label(bastion),
        'known-hosts': '',
        fingerprint: [...bastion.fingerprints, ...behind.fingerprints].join('\n'),
        target: 'jump-fingerprint'
      }),
      { cwd: ws }
    )
    expect(pinned.code, logOf(pinned)).toBe(0)
    expect(readFileSync(behind.path('jump-fingerprint/fp.txt'), 'utf8')).toBe('pinned bastion')
    expect(results(pinned)[0]?.jump).toEqual([label(bastion)])
  })

  test('a bastion with AllowTcpForwarding no: permission, once, "refused to forward"; a direct host deploys', async () => {
    const bastion = host(NO_FORWARDING)
    const [behind, direct] = [target(1), host(DIRECT)]
    const inventory = JSON.stringify({
      hosts: [{ host: behind.entry, jump: [label(bastion)] }, direct.entry]
    })
    const [bastionLog, behindLog] = [logMark(bastion), logMark(behind)]
    const run = await deployInventory(inventory, 'jump-no-forwarding', {
      'n.txt': 'no forwarding'
    })
    const [deployed] = expectHopFailure(run, {
      behind,
      hop: label(bastion),
      at: 'hop 1 of 1',
      errorClass: 'permission',
      attempts: 1,
      how: /refused to forward/
    }).others
    expect(deployed).toMatchObject({ host: label(direct), status: 'success' })
    expect(readFileSync(direct.path('jump-no-forwarding/n.txt'), 'utf8')).toBe('no forwarding')
    // It was the bastion's refusal: it logged the request and refused it.
    expect(bastionLog()).toContain(`refused local port forward`)
    expect(connectionsIn(behindLog())).toBe(0)
    expect(existsSync(behind.path('jump-no-forwarding'))).toBe(false)
  })

  test('a dead second hop: network, retried, naming hop 2 of 2; a host behind the first hop alone deploys', async () => {
    const [first, dying] = [host(BASTION), host(DYING_HOP)]
    const [behind, beside] = [target(2), target(0)]
    const inventory = JSON.stringify({
      hosts: [
        { host: behind.entry, jump: `${label(first)}, ${label(dying)}` },
        { host: beside.entry, jump: label(first) }
      ]
    })
    await dying.kill()
    try {
      const firstLog = logMark(first)
      const run = await deployInventory(
        inventory,
        'jump-dead-hop',
        { 'd.txt': 'dead hop' },
        { retries: '1', 'retry-delay': '100ms' }
      )
      const { error, others } = expectHopFailure(run, {
        behind,
        hop: label(dying),
        at: 'hop 2 of 2',
        errorClass: 'network',
        attempts: 2,
        how: /refused the connection|connection refused/i
      })
      const [deployed] = others
      expect(error).not.toMatch(/refused to forward/)
      expect(deployed).toMatchObject({
        host: label(beside),
        status: 'success',
        jump: [label(first)]
      })
      expect(readFileSync(beside.path('jump-dead-hop/d.txt'), 'utf8')).toBe('dead hop')
      // The first bastion was asked for the dead hop (once per attempt) and never for the host.
      const route = forwardedTo(firstLog())
      expect(route.filter((entry) => entry === dying.entry).length).toBeGreaterThanOrEqual(2)
      expect(route).not.toContain(behind.entry)
      expect(existsSync(behind.path('jump-dead-hop'))).toBe(false)
    } finally {
      await dying.restart()
    }
  })
})

describe('the first hop itself fails', () => {
  test('a key the bastion does not accept (key-env on the hop): auth, once, naming hop 1; nothing reaches the host behind; a direct host deploys', async () => {
    const bastion = host(BASTION)
    const [behind, direct] = [target(0), host(DIRECT)]
    const stranger = makeKeyPair('not-the-bastions')
    const inventory = JSON.stringify({
      hosts: [
        {
          host: behind.entry,
          jump: [{ host: bastion.entry, user: fleet.user, 'key-env': 'SFD_HOP_KEY' }]
        },
        direct.entry
      ]
    })
    const [bastionLog, behindLog] = [logMark(bastion), logMark(behind)]
    const run = await deployInventory(
      inventory,
      'jump-hop-auth',
      { 'a.txt': 'hop auth' },
      {},
      { SFD_HOP_KEY: stranger.privateKey }
    )
    const [deployed] = expectHopFailure(run, {
      behind,
      hop: label(bastion),
      at: 'hop 1 of 1',
      errorClass: 'auth',
      attempts: 1,
      how: /authentication failed/
    }).others
    expect(deployed).toMatchObject({ host: label(direct), status: 'success' })
    // The bastion saw the failed login and forwarded nothing.
    expect(loginsIn(bastionLog())).toBe(0)
    expect(forwardedTo(bastionLog())).toEqual([])
    expect(connectionsIn(behindLog())).toBe(0)
    expect(existsSync(behind.path('jump-hop-auth'))).toBe(false)
  })

  test('nothing listening at the first hop: network, retried, naming hop 1 and the refusal; a direct host deploys', async () => {
    const port = await closedPort('127.0.0.1')
    const behind = target(1)
    const direct = host(DIRECT)
    const hop = `${fleet.user}@127.0.0.1:${port}`
    const inventory = JSON.stringify({ hosts: [{ host: behind.entry, jump: hop }, direct.entry] })
    const behindLog = logMark(behind)
    const run = await deployInventory(
      inventory,
      'jump-hop-refused',
      { 'r.txt': 'refused hop' },
      { retries: '1', 'retry-delay': '100ms' }
    )
    const [deployed] = expectHopFailure(run, {
      behind,
      hop,
      at: 'hop 1 of 1',
      errorClass: 'network',
      attempts: 2,
      how: /connection refused: nothing listens at that address and port/
    }).others
    expect(results(run)[0]?.jump).toEqual([hop])
    expect(deployed).toMatchObject({ host: label(direct), status: 'success' })
    expect(connectionsIn(behindLog())).toBe(0)
    expect(existsSync(behind.path('jump-hop-refused'))).toBe(false)
  })
})

describe('a hop that stops answering', () => {
  test('a first hop that accepts the connection and never speaks SSH: timeout at connect-timeout, naming hop 1', async () => {
    const silent = await startSilentListener('127.0.0.1')
    try {
      const behind = target(0)
      const hop = `${fleet.user}@${silent.entry}`
      const run = await deployInventory(
        JSON.stringify({ hosts: [{ host: behind.entry, jump: hop }] }),
        'jump-silent-hop',
        { 's.txt': 'silent hop' },
        {
          'known-hosts': `${fleet.knownHosts}\n${silent.knownHosts}`,
          'connect-timeout': '2s',
          retries: '0'
        }
      )
      expectHopFailure(run, {
        behind,
        hop,
        at: 'hop 1 of 1',
        errorClass: 'timeout',
        attempts: 1,
        how: /no SSH session within 2s/
      })
      expect(results(run)[0]?.jump).toEqual([hop])
      expect(existsSync(behind.path('jump-silent-hop'))).toBe(false)
    } finally {
      await silent.stop()
    }
  })

  test('the bastion link stalls mid-transfer: keepalive ends it (idle-timeout 5m), the retry opens a new bastion connection, resumes and verifies', async () => {
    const bastion = host(BASTION)
    const behind = target(2)
    const big = pseudoRandomBytes(4 * MiB, 2202)
    // The first connection to the bastion stops forwarding, both ways, after 1 MiB.
    const proxy = await startProxy(bastion, [{ stallAfter: 1 * MiB }])
    try {
      const run = await runAction(
        fleetInputs(fleet, [behind], {
          jump: label(proxy),
          'known-hosts': `${fleet.knownHosts}\n${proxy.knownHostsFrom(bastion.knownHosts)}`,
          source: 'big.bin',
          target: 'jump-stall',
          retries: '2',
          'retry-delay': '50ms',
          'idle-timeout': '5m',
          'keepalive-interval': '1s'
        }),
        { cwd: workspace({ 'big.bin': big }), timeoutMs: 60_000 }
      )
      expect(run.code, logOf(run)).toBe(0)
      expect(proxy.connections[0]?.tripped).toBe(true)
      // The stalled bastion connection was not handed to the retry: a second one was opened.
      expect(proxy.connections.length).toBeGreaterThanOrEqual(2)
      const [result] = results(run)
      expect(result, logOf(run)).toMatchObject({ status: 'success', attempts: 2 })
      // The host's error names the hop whose keepalives went unanswered, not "connection closed".
      expect(logOf(run)).toMatch(
        /\(timeout\): .*: jump host .* \(hop 1 of 1\): the server stopped answering SSH keepalives/
      )
      expect(treeDigest(behind.path('jump-stall'))).toEqual({ 'big.bin': sha256(big) })
      expect(temporaries(behind.home)).toEqual([])
    } finally {
      await proxy.stop()
    }
  })
})

describe('hosts not attempted', () => {
  test('a rollout stopped before a host behind a bastion: skipped, and still named with its jump chain', async () => {
    const port = await closedPort('127.0.0.1')
    const [first, second] = [target(1), target(2)]
    const bastion = host(BASTION)
    const deadHop = `${fleet.user}@127.0.0.1:${port}`
    const inventory = JSON.stringify({
      hosts: [
        { host: first.entry, jump: deadHop },
        { host: second.entry, jump: label(bastion) }
      ]
    })
    const run = await deployInventory(
      inventory,
      'jump-not-attempted',
      { 's.txt': 'second batch' },
      { 'batch-size': '1', retries: '0' }
    )
    expect(run.code, logOf(run)).toBe(1)
    const [failed, skipped] = results(run)
    expect(failed).toMatchObject({ status: 'failed', jump: [deadHop] })
    expect(skipped, logOf(run)).toMatchObject({
      host: label(second),
      status: 'skipped',
      attempts: 0,
      jump: [label(bastion)]
    })
    expect(run.summary).toContain(label(bastion))
    expect(existsSync(second.path('jump-not-attempted'))).toBe(false)
  })
})

describe('a cut on the bastion link', () => {
  test('mid-transfer: retried through the chain, resumed, verified', async () => {
    const bastion = host(BASTION)
    const behind = target(1)
    const big = pseudoRandomBytes(8 * MiB, 2201)
    // The first connection to the bastion dies after 5 MiB from the runner: well into the file.
    const proxy = await startProxy(bastion, [{ cutAfter: 5 * MiB }])
    try {
      const log = logMark(bastion)
      const run = await runAction(
        fleetInputs(fleet, [behind], {
          jump: label(proxy),
          'known-hosts': `${fleet.knownHosts}\n${proxy.knownHostsFrom(bastion.knownHosts)}`,
          source: 'big.bin',
          target: 'jump-cut',
          retries: '3',
          'retry-delay': '50ms',
          'idle-timeout': '10s'
        }),
        { cwd: workspace({ 'big.bin': big }), timeoutMs: 90_000 }
      )
      expect(run.code, logOf(run)).toBe(0)
      expect(proxy.connections[0]?.tripped).toBe(true)
      const [result] = results(run)
      expect(result, logOf(run)).toMatchObject({ status: 'success', jump: [label(proxy)] })
      expect(result?.attempts).toBeGreaterThanOrEqual(2)
      // The retry continued the copy the host had (through the chain again), not from zero.
      expect(result?.resumedBytes).toBeGreaterThan(0)
      expect(treeDigest(behind.path('jump-cut'))).toEqual({ 'big.bin': sha256(big) })
      expect(temporaries(behind.home)).toEqual([])
      // Both attempts went through the bastion.
      const route = forwardedTo(log())
      expect(route.filter((entry) => entry === behind.entry).length).toBeGreaterThanOrEqual(2)
    } finally {
      await proxy.stop()
    }
  })
})
