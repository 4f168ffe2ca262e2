// The order in which the hosts of a run open their SSH sessions. Each session is a login on the
// server, and logins can be slow or even take turns (a login shell's start-up that holds a
// lock). Each host needs one session first (the one its files travel over); a second one (the
// hashing shell for large files, the SFTP server that publishes a tar stream) is wanted later.
// So second sessions wait until no host of the run is still waiting for its first, for a
// bounded time.

export interface SessionGate {
  /** A host is opening the session it needs first: call the returned function once it is up. */
  first(): () => void
  /** Resolves once no host is still opening its first session, or after `maxWaitMs`. */
  second(): Promise<void>
}

export function createSessionGate(maxWaitMs: number): SessionGate {
  let opening = 0
  const waiting = new Set<() => void>()
  const release = (): void => {
    if (opening > 0) return
    for (const resolve of waiting) resolve()
    waiting.clear()
  }
  return {
    first() {
      opening += 1
      let done = false
      return () => {
        if (done) return
        done = true
        opening -= 1
        release()
      }
    },
    second() {
      if (opening === 0) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(go)
          resolve()
        }, maxWaitMs)
        timer.unref()
        const go = (): void => {
          clearTimeout(timer)
          resolve()
        }
        waiting.add(go)
      })
    }
  }
}
