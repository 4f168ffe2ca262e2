// Rollouts without sshd: batch sizes resolved for fleets of 1, 3, 7 and 10 hosts, max-failures,
// the rollout a batch at a time (stopping where failures pass the limit), the script command's
// exports and the health URL's {host}.

import { describe, expect, test } from 'vitest'
import {
  batchesOf,
  failuresTolerated,
  parseBatchSizes,
  parseMaxFailures,
  readScriptEnv
} from '../../src/config/rollout.js'
import { rollOut } from '../../src/deploy/rollout/batches.js'
import { urlFor } from '../../src/deploy/rollout/health.js'
import { scriptCommand } from '../../src/deploy/rollout/scripts.js'
import { notAttempted, type HostResult } from '../../src/deploy/result.js'
import { testSettings } from './fakes/host-job.js'

const sizesOf = (text: string, total: number): number[] =>
  batchesOf(parseBatchSizes(text), total).map((batch) => batch.length)

describe('batch-size', () => {
  test.each([
    ['', [1, 3, 7, 10], [[1], [3], [7], [10]]],
    ['2', [1, 3, 7, 10], [[1], [2, 1], [2, 2, 2, 1], [2, 2, 2, 2, 2]]],
    ['25%', [1, 3, 7, 10], [[1], [1, 1, 1], [1, 1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2]]],
    ['1, 25%, 100%', [1, 3, 7, 10], [[1], [1, 1, 1], [1, 1, 5], [1, 2, 7]]],
    ['1\n50%', [1, 3, 7, 10], [[1], [1, 1, 1], [1, 3, 3], [1, 5, 4]]]
  ])("'%s' for %o hosts", (text, totals, expected) => {
    expect(totals.map((total) => sizesOf(text, total))).toEqual(expected)
  })

  test('batches keep input order and cover every host once', () => {
    expect(batchesOf(parseBatchSizes('1, 50%'), 5)).toEqual([[0], [1, 2], [3, 4]])
  })

  test.each([
    ['0', /Input 'batch-size': a batch must have at least one host/],
    ['0%', /Input 'batch-size': '0%' is not a percentage from 1% to 100%/],
    ['150%', /'150%' is not a percentage/],
    ['a few', /Input 'batch-size': 'a few' is not a number of hosts or a percentage/]
  ])("'%s' is refused, naming the input", (text, message) => {
    expect(() => testSettings({ 'batch-size': text })).toThrow(message)
  })
})

describe('max-failures', () => {
  test('a number, or a percentage of all hosts rounded down', () => {
    expect(failuresTolerated(parseMaxFailures(''), 10)).toBe(0)
    expect(failuresTolerated(parseMaxFailures('2'), 10)).toBe(2)
    expect(failuresTolerated(parseMaxFailures('25%'), 10)).toBe(2)
    expect(failuresTolerated(parseMaxFailures('10%'), 7)).toBe(0)
    expect(() => testSettings({ 'max-failures': 'some' })).toThrow(/Input 'max-failures'/)
  })
})

describe('a rollout, a batch at a time', () => {
  const labels = ['h1', 'h2', 'h3', 'h4', 'h5']
  const result = (label: string, status: HostResult['status']): HostResult => ({
    ...notAttempted(label, 1, ''),
    status,
    attempts: 1
  })

  async function roll(inputs: Record<string, string>, failing: readonly string[]) {
    const settings = testSettings(inputs)
    const started: number[][] = []
    const said: string[] = []
    const rollout = await rollOut(
      settings.rollout,
      labels,
      1,
      (hosts) => {
        started.push([...hosts])
        return Promise.resolve(
          hosts.map((index) => {
            const label = labels[index] ?? '?'
            return result(label, failing.includes(label) ? 'failed' : 'success')
          })
        )
      },
      new AbortController().signal,
      (line) => said.push(line)
    )
    return { rollout, started, said }
  }

  test('a failure past max-failures: no further batch starts, the rest are skipped', async () => {
    const { rollout, started, said } = await roll({ 'batch-size': '1, 2' }, ['h2'])
    expect(started).toEqual([[0], [1, 2]])
    expect(rollout.results.map((r) => [r.status, r.batch])).toEqual([
      ['success', 1],
      ['failed', 2],
      ['success', 2],
      ['skipped', 3],
      ['skipped', 3]
    ])
    expect(rollout.stopped).toBe(
      'after batch 2 of 3: 1 host(s) failed, more than max-failures allows (0)'
    )
    expect(rollout.results[3]?.error).toMatch(/^not started: the rollout stopped after batch 2/)
    expect(said).toContain('batch 2 of 3: 2 host(s)')
  })

  test('within max-failures (a percentage) the rollout goes on', async () => {
    const { rollout, started } = await roll({ 'batch-size': '2', 'max-failures': '40%' }, [
      'h1',
      'h3'
    ])
    expect(started).toEqual([[0, 1], [2, 3], [4]])
    expect(rollout.stopped).toBeUndefined()
    expect(rollout.tolerated).toBe(2)
  })

  test('a held host counts as a failure: the rollout stops', async () => {
    const settings = testSettings({ 'batch-size': '2' })
    const started: number[][] = []
    const rollout = await rollOut(
      settings.rollout,
      labels,
      1,
      (hosts) => {
        started.push([...hosts])
        return Promise.resolve(hosts.map((index) => result(labels[index] ?? '?', 'held')))
      },
      new AbortController().signal,
      () => undefined
    )
    expect(started).toEqual([[0, 1]])
    expect(rollout.stopped).toMatch(/after batch 1 of 3: 2 host\(s\) failed/)
  })

  test('one batch by default: every host at once', async () => {
    const { started, rollout } = await roll({}, [])
    expect(started).toEqual([[0, 1, 2, 3, 4]])
    expect(rollout.results.every((r) => r.batch === 1)).toBe(true)
  })
})

describe('what runs on the host', () => {
  test('the script: its pid said, the exports quoted, set -e, the lines as given', () => {
    const command = scriptCommand(
      'systemctl reload app\necho done',
      new Map([
        ['DEPLOY_TARGET', '/srv/app'],
        ['NOTE', "it's $(here)"]
      ])
    )
    expect(command.split('\n')).toEqual([
      'echo "sfd-script-pid $$" >&2',
      `export DEPLOY_TARGET='/srv/app' NOTE='it'\\''s $(here)'`,
      'set -e',
      'systemctl reload app',
      'echo done'
    ])
  })

  test('script-env: set runner variables only, by name', () => {
    expect([...readScriptEnv('A, B\nC', { A: '1', B: '', C: 'x' })]).toEqual([
      ['A', '1'],
      ['B', ''],
      ['C', 'x']
    ])
    expect(() => readScriptEnv('MISSING', {})).toThrow(/'MISSING' is not set on the runner/)
    expect(() => readScriptEnv('A-B', { 'A-B': 'x' })).toThrow(/not a variable name/)
    expect(() => readScriptEnv('DEPLOY_TARGET', { DEPLOY_TARGET: 'x' })).toThrow(
      /set by the action/
    )
  })

  test('health-check-url: {host} is the address, IPv6 in brackets; only http(s)', () => {
    expect(urlFor('http://{host}:8080/health', '10.0.0.5')).toBe('http://10.0.0.5:8080/health')
    expect(urlFor('https://{host}/up', '::1')).toBe('https://[::1]/up')
    expect(() => testSettings({ 'health-check-url': 'ftp://{host}/' })).toThrow(
      /Input 'health-check-url': 'ftp:\/\/\{host\}\/' is not an http or https URL/
    )
  })
})
