/**
 * What piscina loads in the PDF thread: CommonJS that imports the ES module worker, so the load
 * never goes through require(esm) (see rating/worker-entry.cts for why that matters).
 */
const handler = import('./pdf-worker.js').then((m) => m.default);
export = handler;
