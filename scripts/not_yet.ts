// The processes arrive with the end-to-end issue; until then the start tasks say so plainly.
const what = Deno.args[0] ?? "start";
console.log(
  `not yet: '${what}' is not built. Today the engine core, its tests (deno task test) and its ` +
    `benchmark (deno task bench) work; the poller, API, engine loop and gateway come next.`,
);
