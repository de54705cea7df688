// Computes a few XNNPACK-heavy ops on tfjs's wasm backend as tfjs itself sets
// it up in Node (single-threaded, no tumorcast code), for threads.test.ts to
// compare the multi-threaded backend against. Prints one JSON object of
// arrays. Inputs come from seeded tf.random* calls, which are generated in
// JavaScript and so identical in every process.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { cases } from './threads-cases.mjs';

await tf.setBackend('wasm');
await tf.ready();
const out = { multithread: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') };
for (const [name, fn] of Object.entries(cases)) out[name] = Array.from(tf.tidy(() => fn(tf).dataSync()));
process.stdout.write(JSON.stringify(out));
