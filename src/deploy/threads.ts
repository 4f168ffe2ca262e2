// How many threads deploy a run's hosts, and which hosts each one deploys. Each thread encrypts
// for its own hosts, so N hosts can use up to N of the runner's cores.

import { availableParallelism } from 'node:os'
import type { Destination, ThreadsSetting } from '../config/settings.js'

/**
 * `auto` spreads hosts over threads from this many cores on: below it a second thread costs
 * more CPU than it frees (bench/README.md, "Threads").
 */
export const AUTO_THREADS_MIN_CORES = 4

/**
 * Threads for a run: the runner's cores (or the number given), never more than the hosts, nor
 * than max-parallel (each thread deploys at least one host at a time).
 */
export function threadCount(
  setting: ThreadsSetting,
  hosts: number,
  maxParallel: number,
  cores: number = availableParallelism()
): number {
  const wanted = setting === 'auto' ? (cores >= AUTO_THREADS_MIN_CORES ? cores : 1) : setting
  return Math.max(1, Math.min(wanted, hosts, maxParallel))
}

/** What hosts share a connection to: the first jump host, or nothing. */
function chainOf(host: Destination): string | undefined {
  return host.jump[0]?.label
}

/**
 * The hosts' indices, per thread: hosts behind the same first jump host on one thread (they
 * share its connection), the others dealt in input order to the thread with the fewest.
 */
export function assignHosts(hosts: readonly Destination[], threads: number): number[][] {
  const lanes: number[][] = Array.from({ length: threads }, () => [])
  const chains = new Map<string, number[]>()
  const fewest = (): number[] =>
    lanes.reduce((best, lane) => (lane.length < best.length ? lane : best), lanes[0] ?? [])
  hosts.forEach((host, index) => {
    const chain = chainOf(host)
    if (chain === undefined) {
      fewest().push(index)
      return
    }
    let lane = chains.get(chain)
    if (lane === undefined) {
      lane = fewest()
      chains.set(chain, lane)
    }
    lane.push(index)
  })
  return lanes.filter((lane) => lane.length > 0)
}

/**
 * max-parallel shared between the threads: one host at a time each, then the rest dealt in turn
 * to those with hosts to spare, so that together they never exceed it.
 */
export function parallelShares(
  lanes: readonly (readonly number[])[],
  maxParallel: number
): number[] {
  const shares = lanes.map(() => 1)
  let left = maxParallel - lanes.length
  let dealt = true
  while (left > 0 && dealt) {
    dealt = false
    for (const [index, lane] of lanes.entries()) {
      const share = shares[index] ?? 0
      if (left === 0 || share >= lane.length) continue
      shares[index] = share + 1
      left -= 1
      dealt = true
    }
  }
  return shares
}
