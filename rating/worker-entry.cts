/**
 * What piscina loads in each rating thread. piscina loads a worker with `require()`, and on
 * Node 20.19+ a `require()` of an ES module goes through require(esm). On Node 20.20 that path
 * once aborted a whole test process while a thread was loading: a failed native assertion in
 * the namespace facade it builds, which no handler can catch. This file is CommonJS, so
 * `require()` loads it plainly, and it brings in the ES module worker with `import()`, which
 * can only reject. piscina awaits the exported promise for the handler.
 */
const handler = import('./worker.js').then((m) => m.default);
export = handler;
