// The action's entry point: the runner runs `node dist/index.js`.
import './ssh/heap.js'
import { run } from './main.js'

await run({ workerUrl: new URL('./worker.js', import.meta.url) })
