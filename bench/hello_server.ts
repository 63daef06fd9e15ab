/** The HTTP benchmark's reference: a bare Deno.serve hello world on the port given. */
Deno.serve(
  { port: Number(Deno.args[0]), hostname: "127.0.0.1", onListen: () => {} },
  () => new Response("hello"),
);
