// Runs before every test file (vitest.config.ts, setupFiles). Its afterAll runs after the test
// file's own (after hooks run in reverse order), so hosts are stopped before their files go.
import { afterAll } from 'vitest'
import { removeTempDirs } from './harness/temp.js'

afterAll(removeTempDirs)
