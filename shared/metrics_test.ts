import assert from "node:assert/strict";
import { Registry } from "./metrics.ts";

Deno.test("the registry renders Prometheus text format", () => {
  const registry = new Registry();
  const requests = registry.counter("http_requests_total", "HTTP requests");
  requests.inc({ route: "/a", status: "200" });
  requests.inc({ route: "/a", status: "200" });
  registry.gauge("clients", "connected clients").track(() => 7);
  const latency = registry.histogram("latency_seconds", "latency", [0.01, 0.1]);
  latency.observe(0.05, { route: "/a" });
  const text = registry.render();
  assert.match(
    text,
    /# TYPE http_requests_total counter\nhttp_requests_total\{route="\/a",status="200"\} 2/,
  );
  assert.match(text, /clients 7/);
  assert.match(text, /latency_seconds_bucket\{route="\/a",le="0.01"\} 0/);
  assert.match(text, /latency_seconds_bucket\{route="\/a",le="0.1"\} 1/);
  assert.match(text, /latency_seconds_count\{route="\/a"\} 1/);
});

Deno.test("labels are sorted by name and their values escaped", () => {
  const registry = new Registry();
  const counter = registry.counter("c_total", "c");
  counter.inc({ status: "500", route: 'a"b\\c\nd' });
  counter.inc({ route: 'a"b\\c\nd', status: "500" });
  assert.match(registry.render(), /c_total\{route="a\\"b\\\\c\\nd",status="500"\} 2/);
});
