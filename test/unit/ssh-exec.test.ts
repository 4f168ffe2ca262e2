import { afterEach, describe, expect, test } from 'vitest'
import { exec, streamToCommand } from '../../src/ssh/exec.js'
import type { RequestTracker } from '../../src/ssh/request-tracker.js'
import { chunksThen, fakeConnection, type FakeChannel } from './ssh-fakes.js'

const trackers: RequestTracker[] = []
afterEach(() => {
  for (const tracker of trackers.splice(0)) tracker.stop()
})

const KIB = 1024

function finish(channel: FakeChannel, code: number): void {
  channel.emit('exit', code)
  channel.emit('close')
}

describe('commands run to completion', () => {
  test('exec closes stdin at once and resolves with the exit status and output', async () => {
    const { context, channel, commands } = fakeConnection(trackers)
    const result = exec(context, 'uname -a')
    expect(commands).toEqual(['uname -a'])
    expect(channel.ended).toBe(true)
    channel.print('Linux\n')
    channel.stderr.emit('data', Buffer.from('warning\n'))
    finish(channel, 0)
    await expect(result).resolves.toEqual({
      code: 0,
      signal: undefined,
      stdout: 'Linux\n',
      stderr: 'warning\n'
    })
  })

  test('each stream keeps its first 64 KiB; the rest is read and dropped', async () => {
    const { context, channel } = fakeConnection(trackers)
    const result = exec(context, 'cat big')
    channel.print('a'.repeat(60 * KIB))
    channel.print('b'.repeat(10 * KIB))
    channel.stderr.emit('data', Buffer.from('e'.repeat(70 * KIB)))
    finish(channel, 0)
    const { stdout, stderr } = await result
    expect(stdout).toBe('a'.repeat(60 * KIB) + 'b'.repeat(4 * KIB))
    expect(stderr).toBe('e'.repeat(64 * KIB))
  })

  test.each(['exec', 'streamToCommand'] as const)(
    '%s ends a command that sends more than 16 MiB',
    async (how) => {
      const { context, channel } = fakeConnection(trackers)
      const result =
        how === 'exec' ? exec(context, 'yes') : streamToCommand(context, 'yes', chunksThen([]))
      const chunk = Buffer.alloc(1024 * KIB, 'y')
      for (let sent = 0; sent <= 16 && !channel.closed; sent += 1) channel.print(chunk)
      await expect(result).rejects.toMatchObject({
        kind: 'protocol',
        message:
          'deploy@web:22: a remote command sent more than 16 MiB of output: it is not ours (does the account force a command?)'
      })
      expect(channel.closed).toBe(true)
    }
  )

  test('streamToCommand feeds stdin, ends it, and resolves with the result', async () => {
    const { context, channel } = fakeConnection(trackers)
    const result = streamToCommand(context, 'tar -x', chunksThen(['ab', 'cd']))
    await new Promise((resolve) => setImmediate(resolve))
    expect(channel.written).toEqual(['ab', 'cd'])
    expect(channel.ended).toBe(true)
    finish(channel, 2)
    await expect(result).resolves.toMatchObject({ code: 2 })
  })

  test('streamToCommand waits for a full window to drain', async () => {
    const { context, channel } = fakeConnection(trackers)
    channel.windowOpen = false
    const result = streamToCommand(context, 'tar -x', chunksThen(['ab', 'cd']))
    await new Promise((resolve) => setImmediate(resolve))
    expect(channel.written).toEqual(['ab'])
    channel.windowOpen = true
    channel.emit('drain')
    await new Promise((resolve) => setImmediate(resolve))
    expect(channel.written).toEqual(['ab', 'cd'])
    finish(channel, 0)
    await expect(result).resolves.toMatchObject({ code: 0 })
  })

  test('a failed input stops the command as a local-file error', async () => {
    const { context, channel } = fakeConnection(trackers)
    const input = chunksThen(['ab'], new Error("cannot read 'site/a'"))
    const result = streamToCommand(context, 'tar -x', input)
    await expect(result).rejects.toMatchObject({
      kind: 'local-file',
      message: "cannot read 'site/a'"
    })
    expect(channel.closed).toBe(true)
  })
})
