import { afterEach, describe, expect, test } from 'vitest'
import { DeployError } from '../../src/errors.js'
import { openCommandChannel } from '../../src/ssh/line-channel.js'
import type { RequestTracker } from '../../src/ssh/request-tracker.js'
import { chunksThen, fakeConnection } from './ssh-fakes.js'

const trackers: RequestTracker[] = []
afterEach(() => {
  for (const tracker of trackers.splice(0)) tracker.stop()
})

async function started() {
  const fake = fakeConnection(trackers)
  const lines = await openCommandChannel(fake.context, 'sh -s', '@')
  return { fake, lines, channel: fake.channel, commands: fake.commands, context: fake.context }
}

describe('command channel', () => {
  test('answers requests in order with their prefixed lines, up to each terminator', async () => {
    const { lines, channel, commands, context } = await started()
    expect(commands).toEqual(['sh -s'])
    const first = lines.request('hash a\n', '@done 1', 60_000)
    const second = lines.request('hash b\n', '@done 2', 60_000)
    expect(channel.written).toEqual(['hash a\n', 'hash b\n'])
    channel.print('noise from .bashrc\n@a 1\n@a')
    channel.print(' 2\n@done 1\n@b 1\n')
    channel.stderr.emit('data', Buffer.from('a warning\n'))
    channel.print('@done 2\n')
    await expect(first).resolves.toEqual(['@a 1', '@a 2'])
    await expect(second).resolves.toEqual(['@b 1'])
    expect(context.requests.failure).toBeUndefined()
  })

  test('a request is sent at once; an empty one only waits', async () => {
    const { fake, lines, channel } = await started()
    const answer = lines.request('', '@ready', 60_000)
    expect(channel.written).toEqual([])
    expect(fake.flushes).toBe(0)
    void lines.request('ping\n', '@pong', 60_000)
    expect(channel.written).toEqual(['ping\n'])
    expect(fake.flushes).toBe(1)
    channel.print('@ready\n')
    await expect(answer).resolves.toEqual([])
  })

  test('a character split between two chunks is read whole', async () => {
    const { lines, channel } = await started()
    const answer = lines.request('x\n', '@end', 60_000)
    const text = Buffer.from('@é\n@end\n')
    channel.print(text.subarray(0, 2))
    channel.print(text.subarray(2))
    await expect(answer).resolves.toEqual(['@é'])
  })

  test('a line longer than 64 KiB ends the channel as a protocol error', async () => {
    const { lines, channel } = await started()
    const answer = lines.request('x\n', '@end', 60_000)
    channel.print('@' + 'x'.repeat(64 * 1024 + 1))
    await expect(answer).rejects.toThrow(
      'deploy@web:22: a remote command sent a line longer than 64 KiB: its output is not ours (does the account force a command?)'
    )
    await expect(answer).rejects.toMatchObject({ kind: 'protocol' })
    expect(channel.closed).toBe(true)
    await expect(lines.request('y\n', '@end', 60_000)).rejects.toThrow(
      'deploy@web:22: the remote command ended'
    )
  })

  test("an answer longer than its request's bound ends the channel", async () => {
    const { lines, channel } = await started()
    const answer = lines.request('x\n', '@end', 60_000, 10)
    channel.print('@12345\n@67890\n')
    await expect(answer).rejects.toThrow(
      'deploy@web:22: a remote command sent more output than the request it answers can have: its output is not ours (does the account force a command?)'
    )
    expect(channel.closed).toBe(true)
  })

  test('the command ending rejects the requests still waiting', async () => {
    const { lines, channel } = await started()
    const answer = lines.request('x\n', '@end', 60_000)
    channel.emit('close')
    await expect(answer).rejects.toMatchObject({
      kind: 'remote-failure',
      message: 'deploy@web:22: the remote command ended'
    })
  })

  test("a connection's failure is what waiting and later requests reject with", async () => {
    const { lines, channel, context } = await started()
    const answer = lines.request('x\n', '@end', 60_000)
    const lost = new DeployError('connection-lost', 'deploy@web:22: the connection closed')
    context.requests.fail(lost)
    channel.emit('close')
    await expect(answer).rejects.toBe(lost)
    await expect(lines.request('y\n', '@end', 60_000)).rejects.toBe(lost)
  })

  test('send streams its input into stdin and ends it; a failed input is a local-file error', async () => {
    const first = await started()
    await first.lines.send(chunksThen(['ab', 'cd']))
    expect(first.channel.written).toEqual(['ab', 'cd'])
    expect(first.channel.ended).toBe(true)

    const second = await started()
    const sent = second.lines.send(chunksThen(['ab'], new Error("cannot read 'site/a'")))
    await expect(sent).rejects.toMatchObject({
      kind: 'local-file',
      message: "cannot read 'site/a'"
    })
    expect(second.channel.closed).toBe(true)
  })

  test('write sends without waiting; close ends the command', async () => {
    const { lines, channel } = await started()
    lines.write('quiet\n')
    const answer = lines.request('x\n', '@end', 60_000)
    lines.close()
    await expect(answer).rejects.toThrow('deploy@web:22: the remote command was closed')
    lines.write('dropped\n')
    expect(channel.written).toEqual(['quiet\n', 'x\n'])
    expect(channel.ended).toBe(true)
    expect(channel.closed).toBe(true)
  })
})
