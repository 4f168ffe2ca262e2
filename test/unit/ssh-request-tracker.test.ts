import { afterEach, describe, expect, test } from 'vitest'
import { ConnectionEndedError, DeployError } from '../../src/errors.js'
import { RequestTracker } from '../../src/ssh/request-tracker.js'

const trackers: RequestTracker[] = []
afterEach(() => {
  for (const tracker of trackers.splice(0)) tracker.stop()
})

/** A tracker whose watchdog looks every 5 ms; the failures it reports, in order. */
function tracker(): { requests: RequestTracker; failures: DeployError[] } {
  const failures: DeployError[] = []
  const requests = new RequestTracker('deploy@web:22', (error) => failures.push(error), 5)
  trackers.push(requests)
  return { requests, failures }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const never = (): void => undefined

describe('request tracker', () => {
  test('a request settles with its answer, once', async () => {
    const { requests } = tracker()
    const answer = requests.track<number>('stat /srv', 1_000, (resolve, reject) => {
      resolve(1)
      resolve(2)
      reject(new DeployError('protocol', 'late'))
    })
    await expect(answer).resolves.toBe(1)
    const refused = new DeployError('permission', "mkdir '/srv': permission denied")
    await expect(requests.track('mkdir /srv', 1_000, (_, reject) => reject(refused))).rejects.toBe(
      refused
    )
    expect(requests.failure).toBeUndefined()
  })

  test('a request that throws as it starts rejects with a DeployError', async () => {
    const { requests } = tracker()
    const started = requests.track('open /srv/a', 1_000, () => {
      throw new Error('the channel is not open')
    })
    await expect(started).rejects.toBeInstanceOf(DeployError)
    expect(requests.failure).toBeUndefined()
  })

  test('the watchdog fails the connection when a request waits past its allowance in silence', async () => {
    const { requests, failures } = tracker()
    const waiting = requests.track('write at 0', 30, never)
    await expect(waiting).rejects.toThrow(
      /^deploy@web:22: no data from the server for \d+s during write at 0; the connection is stalled$/
    )
    expect(requests.failure?.kind).toBe('timeout')
    expect(failures).toEqual([requests.failure])
  })

  test('data from the server keeps a waiting request alive', async () => {
    const { requests } = tracker()
    const waiting = requests.track('read at 0', 100, never)
    const outcome = waiting.then(
      () => 'answered',
      () => 'failed'
    )
    for (let elapsed = 0; elapsed < 300; elapsed += 10) {
      requests.touch()
      await sleep(10)
    }
    expect(requests.failure).toBeUndefined()
    await expect(outcome).resolves.toBe('failed')
  })

  test('with nothing waiting, silence is no stall', async () => {
    const { requests } = tracker()
    await sleep(40)
    expect(requests.failure).toBeUndefined()
  })

  test('before the connection is up, the first failure wins as it is', async () => {
    const { requests, failures } = tracker()
    const first = new DeployError('auth', 'authentication failed on deploy@web:22')
    const waiting = requests.track('opening the SFTP session', 60_000, never)
    requests.fail(first)
    requests.fail(new DeployError('connection-lost', 'deploy@web:22: the connection closed'))
    await expect(waiting).rejects.toBe(first)
    expect(requests.failure).toBe(first)
    expect(failures).toEqual([first])
    await expect(requests.track('stat /srv', 60_000, never)).rejects.toBe(first)
  })

  test('once the connection is up, its failure is a ConnectionEndedError for every request', async () => {
    const { requests, failures } = tracker()
    requests.connected()
    const waiting = requests.track('write at 0', 60_000, never)
    const lost = new DeployError('connection-lost', 'deploy@web:22: the connection closed')
    requests.fail(lost)
    const ended = requests.failure
    expect(ended).toBeInstanceOf(ConnectionEndedError)
    expect(ended).toMatchObject({ kind: 'connection-lost', message: lost.message, cause: lost })
    await expect(waiting).rejects.toBe(ended)
    await expect(requests.track('close handle', 60_000, never)).rejects.toBe(ended)
    expect(failures).toEqual([ended])
  })
})
