// `switch: together` across the run: each fan-out (this thread's, or each worker thread's) says
// whether all its hosts are ready, and learns whether all the run's hosts are; then the same for
// the switch itself. One fan-out decides alone (localBarrier); threads vote through the main
// thread (RunBarrier).

export type BarrierPhase = 'ready' | 'switched'

export interface SwitchBarrier {
  /** This fan-out's hosts are all ready (or not); resolves whether every host of the run is. */
  vote(phase: BarrierPhase, ok: boolean): Promise<boolean>
}

/** A run on one thread: its own hosts are all there is. */
export const localBarrier: SwitchBarrier = {
  vote: (_phase, ok) => Promise.resolve(ok)
}

/** The main thread's tally of the threads' votes, phase by phase. */
export class RunBarrier {
  readonly #parties: number
  readonly #tallies = new Map<
    BarrierPhase,
    { votes: number; ok: boolean; decided: Promise<boolean>; decide: (ok: boolean) => void }
  >()

  constructor(parties: number) {
    this.#parties = parties
  }

  #tally(phase: BarrierPhase) {
    let tally = this.#tallies.get(phase)
    if (tally === undefined) {
      let decide: (ok: boolean) => void = () => undefined
      const decided = new Promise<boolean>((resolve) => (decide = resolve))
      tally = { votes: 0, ok: true, decided, decide }
      this.#tallies.set(phase, tally)
    }
    return tally
  }

  /** One party's vote; resolves once every party has voted: true where all said ok. */
  vote(phase: BarrierPhase, ok: boolean): Promise<boolean> {
    const tally = this.#tally(phase)
    tally.votes += 1
    tally.ok &&= ok
    if (tally.votes >= this.#parties) tally.decide(tally.ok)
    return tally.decided
  }
}
