// Whether a connection is still up, for the work that needs no error to decide: clean-up worth
// trying, leftovers to forget. Where an error is at hand, isConnectionEnded(error) says it.

import type { SshConnection } from '../ssh/types.js'

/** Whether `connection` has neither failed nor ended: requests over it may still succeed. */
export function connectionIsUp(connection: SshConnection): boolean {
  return connection.failure === undefined
}
