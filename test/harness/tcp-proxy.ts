// A TCP proxy in front of a test sshd that misbehaves on purpose (tc netem does not work on these
// machines): per connection, in order, it can cut the connection after N bytes from the client,
// reset it, stall it (stop forwarding, keep it open), or slow it down. Connections beyond the
// plan pass through untouched.

import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net'

export interface ConnectionFault {
  /** After this many client→server bytes, close both sides (FIN). */
  readonly cutAfter?: number
  /** After this many client→server bytes, reset both sides (RST). */
  readonly resetAfter?: number
  /** After this many client→server bytes, forward nothing more either way; keep both open. */
  readonly stallAfter?: number
  /** Forward client→server bytes at most this fast. */
  readonly bytesPerSecond?: number
}

export interface ConnectionRecord {
  /** Client→server bytes forwarded. */
  upstream: number
  /** Server→client bytes forwarded. */
  downstream: number
  fault: ConnectionFault | undefined
  /** The fault has happened (cut, reset or stall reached). */
  tripped: boolean
}

export interface TcpProxy {
  readonly address: string
  readonly port: number
  readonly entry: string
  readonly connections: ConnectionRecord[]
  /** known_hosts lines for the proxy's address, with the backend's keys. */
  knownHostsFrom(backendKnownHosts: string): string
  stop(): Promise<void>
}

/** A proxy on 127.0.0.1 in front of `target`, with a fault for each connection, in order. */
export async function startProxy(
  target: { readonly address: string; readonly port: number },
  faults: readonly (ConnectionFault | undefined)[] = []
): Promise<TcpProxy> {
  const address = '127.0.0.1'
  const sockets = new Set<Socket>()
  const connections: ConnectionRecord[] = []
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
  }

  const server = createServer((client) => {
    const record: ConnectionRecord = {
      upstream: 0,
      downstream: 0,
      fault: faults[connections.length],
      tripped: false
    }
    connections.push(record)
    const fault = record.fault
    const upstream = netConnect({ host: target.address, port: target.port })
    track(client)
    track(upstream)
    let stalled = false

    // The fault acts at once, whether or not the server has read what came before it: waiting
    // for that could turn a cut into a stall when the server is slow to read.
    const act = (last: Buffer): void => {
      if (fault?.stallAfter !== undefined) {
        upstream.write(last)
        stalled = true
        client.pause()
        upstream.pause()
      } else if (fault?.resetAfter !== undefined) {
        upstream.write(last)
        client.resetAndDestroy()
        upstream.resetAndDestroy()
      } else {
        upstream.end(last)
        client.destroy()
      }
    }
    const limit = fault?.cutAfter ?? fault?.resetAfter ?? fault?.stallAfter

    client.on('data', (data: Buffer) => {
      if (record.tripped) return
      let chunk = data
      if (limit !== undefined && record.upstream + chunk.length >= limit) {
        chunk = chunk.subarray(0, Math.max(0, limit - record.upstream))
        record.upstream += chunk.length
        record.tripped = true
        act(chunk)
        return
      }
      record.upstream += chunk.length
      upstream.write(chunk)
      if (fault?.bytesPerSecond !== undefined) {
        client.pause()
        setTimeout(
          () => {
            if (!stalled) client.resume()
          },
          (chunk.length / fault.bytesPerSecond) * 1000
        )
      }
    })
    upstream.on('data', (data: Buffer) => {
      if (stalled || record.tripped) return
      record.downstream += data.length
      client.write(data)
    })
    client.on('end', () => {
      if (!stalled) upstream.end()
    })
    upstream.on('end', () => {
      if (!stalled) client.end()
    })
    client.on('close', () => {
      if (!stalled) upstream.destroy()
    })
    upstream.on('close', () => {
      if (!stalled) client.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, address, () => resolve()))
  const port = (server.address() as AddressInfo).port
  return {
    address,
    port,
    entry: `${address}:${port}`,
    connections,
    knownHostsFrom: (backend) =>
      backend
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => `[${address}]:${port} ${line.trim().split(/\s+/).slice(1).join(' ')}`)
        .join('\n'),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
