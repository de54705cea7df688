// A stand-in for map-worker.ts in the pool's failure tests: it starts at once,
// and on its first run either exits (models.diffusion 'exit': a worker that
// dies, as one out of memory does) or never answers ('hang').
import { parentPort, workerData } from 'node:worker_threads';

parentPort.postMessage({ type: 'ready', imageSize: 4 });
parentPort.on('message', () => {
  if (workerData.models.diffusion === 'exit') process.exit(3);
});
