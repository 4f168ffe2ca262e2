import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { createChunkReader } from '../../src/local/chunk-reader.js'
import { DeployError } from '../../src/errors.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'

const content = pseudoRandomBytes(10_000, 7)
const dir = workspace({ 'a.bin': content, 'b.bin': pseudoRandomBytes(5000, 8) })
const a = join(dir, 'a.bin')
const b = join(dir, 'b.bin')

describe('chunk reader', () => {
  test('hands out the file in chunks, short at the end and empty past it', async () => {
    const reader = createChunkReader({ chunkSize: 4096, buffers: 4 })
    const file = reader.open(a)
    const parts: Buffer[] = []
    for (let position = 0; ; position += 4096) {
      const chunk = await file.chunk(position, 4096)
      const length = chunk.data.length
      parts.push(Buffer.from(chunk.data))
      chunk.release()
      if (length === 0) break
    }
    file.close()
    expect(parts.map((part) => part.length)).toEqual([4096, 4096, 1808, 0])
    expect(Buffer.concat(parts).equals(content)).toBe(true)
  })

  test('hosts sending the same file share one buffer while either holds it', async () => {
    const reader = createChunkReader({ chunkSize: 4096, buffers: 4 })
    const [first, second] = [reader.open(a), reader.open(a)]
    const one = await first.chunk(4096, 4096)
    const two = await second.chunk(4096, 4096)
    // The same memory, not a copy: one read served both.
    expect(two.data.buffer).toBe(one.data.buffer)
    expect(two.data.byteOffset).toBe(one.data.byteOffset)
    one.release()
    two.release()
    // Released, it stays for a host that follows, until the buffer is needed elsewhere.
    const three = await first.chunk(4096, 4096)
    expect(three.data.buffer).toBe(one.data.buffer)
    expect(three.data.equals(content.subarray(4096, 8192))).toBe(true)
    three.release()
    first.close()
    second.close()
  })

  test('memory is bounded: with every buffer held, the next chunk waits for a release', async () => {
    const reader = createChunkReader({ chunkSize: 1024, buffers: 2 })
    const file = reader.open(a)
    const held = [await file.chunk(0, 1024), await file.chunk(1024, 1024)]
    let third: Buffer | undefined
    const waiting = file.chunk(2048, 1024).then((chunk) => {
      third = Buffer.from(chunk.data)
      chunk.release()
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(third).toBeUndefined()
    held[0]?.release()
    await waiting
    expect(third?.equals(content.subarray(2048, 3072))).toBe(true)
    // The evicted chunk is read again, correctly, when asked for after its buffer was reused.
    held[1]?.release()
    const again = await file.chunk(0, 1024)
    expect(again.data.equals(content.subarray(0, 1024))).toBe(true)
    again.release()
    file.close()
  })

  test('chunks of different files never mix', async () => {
    const reader = createChunkReader({ chunkSize: 1000, buffers: 1 })
    const [fa, fb] = [reader.open(a), reader.open(b)]
    const ca = await fa.chunk(0, 1000)
    const copy = Buffer.from(ca.data)
    ca.release()
    const cb = await fb.chunk(0, 1000)
    expect(cb.data.equals(pseudoRandomBytes(5000, 8).subarray(0, 1000))).toBe(true)
    cb.release()
    const ca2 = await fa.chunk(0, 1000)
    expect(ca2.data.equals(copy)).toBe(true)
    ca2.release()
    fa.close()
    fb.close()
  })

  test('a file that cannot be read is a local-file error naming it', () => {
    const reader = createChunkReader({ chunkSize: 1024, buffers: 2 })
    const missing = join(dir, 'gone.bin')
    rmSync(missing, { force: true })
    let error: unknown
    try {
      reader.open(missing)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(DeployError)
    expect((error as DeployError).kind).toBe('local-file')
    expect((error as DeployError).message).toContain('gone.bin')
  })
})
