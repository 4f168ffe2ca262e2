// ssh2 hands the socket every SSH packet in three or four pieces (length, payload, tag), and one
// SFTP write becomes several packets. Corking the socket for the rest of the current tick sends each
// burst in one writev instead of one system call per piece. Nagle stays off, so nothing waits
// longer than the tick.

import type { Socket } from 'node:net'
import { noteGarbage } from './heap.js'

/**
 * Holds the socket's writes until the end of the tick, then sends them in one writev. Returns a
 * function that sends what is held at once.
 */
export function coalesceWrites(socket: Socket): () => void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean
  let corked = false
  const uncork = (): void => {
    if (!corked) return
    corked = false
    socket.uncork()
  }
  socket.write = (...args: unknown[]) => {
    const [data] = args
    if (Buffer.isBuffer(data)) noteGarbage(data.length)
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    return write(...args)
  }
  return uncork
}
