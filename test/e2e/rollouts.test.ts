// Rolling deploys against real OpenSSH servers, as the runner runs the action: batches in input
// order, a canary that stops the rollout, max-failures, script-before and script-after on the
// host (exported values arriving literally, masked, stopped at script-timeout), health checks by
// command and by URL (a real HTTP server on loopback), and a host rolled back to its previous
// release when its health check never passes.

import { spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, readFileSync, readlinkSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { workspace } from '../helpers/workspace.js'
import { plant } from '../harness/host-tree.js'
import { fleetInputs, logOf, results, runAction, treeDigest } from '../harness/run-action.js'
import { useFleet, type TestHost } from '../harness/sshd.js'

const fleet = useFleet({ count: 3 })
const host = (index: number): TestHost => fleet.host(index)
const all = (): TestHost[] => [host(0), host(1), host(2)]

function run(
  hosts: readonly TestHost[],
  extra: Record<string, string>,
  env?: Record<string, string>
) {
  return runAction(fleetInputs(fleet, hosts, extra), {
    cwd: workspace({ 'index.html': 'v' }),
    ...(env === undefined ? {} : { env })
  })
}

describe('batches', () => {
  test('in input order, each batch finished before the next starts', async () => {
    const deploy = await run(all(), { target: 'ro/order', 'batch-size': '1, 2' })
    expect(deploy.code, logOf(deploy)).toBe(0)
    const [first, ...rest] = results(deploy)
    expect(results(deploy).map((result) => result.batch)).toEqual([1, 2, 2])
    for (const later of rest)
      expect(Date.parse(later.startedAt ?? '')).toBeGreaterThanOrEqual(
        Date.parse(first?.finishedAt ?? '')
      )
    expect(logOf(deploy)).toContain('batch 2 of 2: 2 host(s)')
  })

  test('a canary whose script-after fails stops the rollout; max-failures 1 lets it go on', async () => {
    plant(host(0).path(''), { 'rollout-fail': 'x' })
    const inputs = {
      target: 'ro/canary',
      'batch-size': '1',
      'script-after': 'test ! -e "$HOME/rollout-fail" || { echo "canary says no" >&2; exit 3; }'
    }
    const stopped = await run(all(), inputs)
    expect(stopped.code, logOf(stopped)).toBe(1)
    expect(results(stopped).map((result) => result.status)).toEqual([
      'failed',
      'skipped',
      'skipped'
    ])
    expect(results(stopped)[0]).toMatchObject({ errorClass: 'script' })
    expect(results(stopped)[0]?.error).toBe('script-after exited with 3: canary says no')
    expect(results(stopped)[1]?.error).toMatch(
      /rollout stopped after batch 1 of 3: 1 host\(s\) failed/
    )
    expect(stopped.summary).toContain('The rollout stopped after batch 1 of 3')
    // Every host is reported, those not started too.
    expect(stopped.stdout.match(/^::group::.*: skipped \(/gm)?.length).toBe(2)
    expect(existsSync(host(1).path('ro/canary/index.html'))).toBe(false)

    const tolerated = await run(all(), { ...inputs, 'max-failures': '1' })
    expect(tolerated.code, logOf(tolerated)).toBe(0)
    expect(results(tolerated).map((result) => result.status)).toEqual([
      'failed',
      'success',
      'success'
    ])
    expect(tolerated.stdout).toMatch(/::warning title=Deploy to .*::script-after exited with 3/)
  })
})

describe('batches over threads', () => {
  test('releases switched together per batch, two threads: every host on the new release', async () => {
    const deploy = await run(all(), {
      target: 'ro/threads',
      releases: 'true',
      'release-name': 'r1',
      threads: '2',
      'batch-size': '1, 2',
      'script-after': 'echo "after $DEPLOY_RELEASE"'
    })
    expect(deploy.code, logOf(deploy)).toBe(0)
    expect(logOf(deploy)).toContain('2 thread(s)')
    expect(results(deploy).map((result) => [result.batch, result.status, result.switched])).toEqual(
      [
        [1, 'success', true],
        [2, 'success', true],
        [2, 'success', true]
      ]
    )
    for (const h of all()) expect(readlinkSync(h.path('ro/threads/current'))).toBe('releases/r1')
  })
})

describe('scripts', () => {
  test('a dry run runs no script and no health check', async () => {
    const h = host(0)
    const plan = await run([h], {
      target: 'ro/dry',
      'dry-run': 'true',
      'script-before': 'touch "$HOME/before-ran"',
      'script-after': 'touch "$HOME/after-ran"',
      'health-check': 'exit 1'
    })
    expect(plan.code, logOf(plan)).toBe(0)
    expect(results(plan)[0]?.status).toBe('planned')
    expect(logOf(plan)).toContain(
      'a dry run does not run script-before, script-after, the health checks'
    )
    expect(existsSync(h.path('before-ran'))).toBe(false)
    expect(existsSync(h.path('after-ran'))).toBe(false)
  })

  test('a script may print more than our own commands may (20 MB): the host succeeds, the log keeps its end', async () => {
    const h = host(2)
    const deploy = await run([h], {
      target: 'ro/verbose',
      'script-after':
        "yes 'a verbose line of a long migration' | head -n 500000; echo the last line"
    })
    expect(deploy.code, logOf(deploy)).toBe(0)
    expect(results(deploy)[0]).toMatchObject({ status: 'success' })
    expect(logOf(deploy)).toContain('the last line')
  })

  test('script-before failing: nothing written to that host', async () => {
    const h = host(1)
    const deploy = await run([h], { target: 'ro/before', 'script-before': 'echo checking; false' })
    expect(deploy.code).toBe(1)
    expect(results(deploy)[0]).toMatchObject({
      status: 'failed',
      errorClass: 'script',
      attempts: 1
    })
    expect(results(deploy)[0]?.error).toBe('script-before exited with 1: checking')
    expect(treeDigest(h.path('ro/before'))).toEqual({})
  })

  test('script-env values arrive literally and run nothing; they are masked; DEPLOY_TARGET is set', async () => {
    const h = host(2)
    const hostile = `it's "quoted" $(touch pwned) \`touch pwned2\` $HOME\nsecond line`
    const deploy = await run(
      [h],
      {
        target: 'ro/env',
        'script-env': 'HOSTILE, TOKEN',
        'script-after': [
          'printf %s "$HOSTILE" > "$DEPLOY_TARGET/hostile.txt"',
          'echo "token is $TOKEN"',
          'echo "target is $DEPLOY_TARGET"'
        ].join('\n')
      },
      { HOSTILE: hostile, TOKEN: 'tok-3141592653' }
    )
    expect(deploy.code, logOf(deploy)).toBe(0)
    expect(readFileSync(h.path('ro/env/hostile.txt'), 'utf8')).toBe(hostile)
    expect(existsSync(h.path('pwned'))).toBe(false)
    expect(existsSync(h.path('pwned2'))).toBe(false)
    // The value is masked before the line that prints it.
    const lines = deploy.stdout.split('\n')
    const mask = lines.indexOf('::add-mask::tok-3141592653')
    const printed = lines.findIndex((line) =>
      line.includes('script-after: token is tok-3141592653')
    )
    expect(mask).toBeGreaterThanOrEqual(0)
    expect(printed).toBeGreaterThan(mask)
    expect(deploy.stdout).toContain(`script-after: target is ${h.home}/ro/env`)
  })

  test('a script with a long output: its last lines in the log, its last error line too', async () => {
    const h = host(1)
    const deploy = await run([h], {
      target: 'ro/long',
      'script-after': 'seq 1 30000; echo "the real problem" >&2; exit 4'
    })
    expect(deploy.code).toBe(1)
    expect(results(deploy)[0]?.error).toMatch(/^script-after exited with 4: /)
    expect(deploy.stdout).toContain('script-after: 30000')
    expect(deploy.stdout).toContain('script-after: the real problem')
    expect(deploy.stdout).not.toContain('script-after: 12\n')
  })

  test('a script that hangs is stopped at script-timeout', async () => {
    const h = host(0)
    const started = Date.now()
    const deploy = await run([h], {
      target: 'ro/hang',
      'script-after': 'echo sleeping; sleep 601',
      'script-timeout': '2s'
    })
    expect(deploy.code).toBe(1)
    expect(results(deploy)[0]).toMatchObject({ status: 'failed', errorClass: 'script' })
    expect(results(deploy)[0]?.error).toBe(
      'script-after was stopped after 2.0s (script-timeout): sleeping'
    )
    expect(Date.now() - started).toBeLessThan(30_000)
    // The script's whole process group was killed: no `sleep 601` outlives it.
    expect(spawnSync('pgrep', ['-f', 'sleep 601']).status).toBe(1)
  })
})

describe('a cancel', () => {
  test('SIGTERM during script-before: the script is killed on the host, the lock removed', async () => {
    const h = host(2)
    const deploy = await runAction(
      fleetInputs(fleet, [h], { target: 'ro/cancel', 'script-before': 'echo waiting; sleep 602' }),
      {
        cwd: workspace({ 'index.html': 'v' }),
        timeoutMs: 30_000,
        // Once the script runs on the host.
        onSpawn: (child) => {
          const poll = setInterval(() => {
            if (spawnSync('pgrep', ['-f', 'sleep 602']).status !== 0) return
            clearInterval(poll)
            child.kill('SIGTERM')
          }, 50)
          child.on('close', () => clearInterval(poll))
        }
      }
    )
    expect(deploy.signal).toBeNull()
    expect(deploy.code).toBe(1)
    expect(results(deploy)[0]).toMatchObject({ status: 'failed', errorClass: 'aborted' })
    expect(spawnSync('pgrep', ['-f', 'sleep 602']).status).toBe(1)
    expect(existsSync(h.path('ro/cancel/.deploy.lock'))).toBe(false)
    expect(existsSync(h.path('ro/cancel/index.html'))).toBe(false)
  })
})

describe('health checks', () => {
  let server: Server
  let port = 0
  const answers: number[] = []
  beforeAll(async () => {
    server = createServer((_, response) => {
      response.statusCode = answers.shift() ?? 200
      response.end('ok')
    })
    // On the address of the host it checks: `{host}` in the URL is the host's address.
    await new Promise<void>((resolve) => server.listen(0, host(2).address, resolve))
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  test('a command that passes on the third try', async () => {
    const h = host(1)
    const deploy = await run([h], {
      target: 'ro/health3',
      'health-check':
        'n=$(cat "$DEPLOY_TARGET/tries" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$DEPLOY_TARGET/tries"; test $n -ge 3',
      'health-check-interval': '100ms'
    })
    expect(deploy.code, logOf(deploy)).toBe(0)
    expect(readFileSync(h.path('ro/health3/tries'), 'utf8').trim()).toBe('3')
    expect(logOf(deploy)).toContain('health check passed on attempt 3')
  })

  test('a URL that answers 503 twice, then 200; a closed port fails within attempts × interval', async () => {
    answers.push(503, 503)
    const ok = await run([host(2)], {
      target: 'ro/url',
      'health-check-url': `http://{host}:${port}/health`,
      'health-check-interval': '100ms'
    })
    expect(ok.code, logOf(ok)).toBe(0)
    expect(logOf(ok)).toContain('health check passed on attempt 3')
    expect(logOf(ok)).toMatch(/attempt 1 of 10 failed: http:\/\/127\.[0-9.]+:\d+\/health: HTTP 503/)

    const started = Date.now()
    const closed = await run([host(2)], {
      target: 'ro/url',
      'health-check-url': 'http://127.0.0.1:9/health',
      'health-check-attempts': '3',
      'health-check-interval': '200ms'
    })
    expect(closed.code).toBe(1)
    expect(results(closed)[0]).toMatchObject({ status: 'failed', errorClass: 'health-check' })
    expect(results(closed)[0]?.error).toMatch(/health check failed 3 time\(s\)/)
    expect(Date.now() - started).toBeLessThan(20_000)
  })

  test('never healthy: the host is rolled back to its previous release, script-after ran twice', async () => {
    const h = host(0)
    const base = {
      target: 'ro/back',
      releases: 'true',
      'script-after': 'echo "$DEPLOY_RELEASE" >> "$DEPLOY_TARGET/after.log"'
    }
    const first = await run([h], { ...base, 'release-name': 'good' })
    expect(first.code, logOf(first)).toBe(0)
    const bad = await run([h], {
      ...base,
      'release-name': 'bad',
      'health-check': 'exit 1',
      'health-check-attempts': '2',
      'health-check-interval': '100ms'
    })
    expect(bad.code).toBe(1)
    expect(results(bad)[0]).toMatchObject({
      status: 'failed',
      errorClass: 'health-check',
      rolledBack: true,
      release: 'bad',
      previousRelease: 'good',
      switched: false
    })
    expect(readlinkSync(h.path('ro/back/current'))).toBe('releases/good')
    expect(readFileSync(h.path('ro/back/after.log'), 'utf8')).toBe('good\nbad\ngood\n')
    expect(existsSync(h.path('ro/back/releases/bad'))).toBe(false)
    expect(existsSync(h.path('ro/back/.deploy.lock'))).toBe(false)
  })
})
