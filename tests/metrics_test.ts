/** Every process serves Prometheus metrics: requests, latency, entries, lag, snapshots, clients, reconnects. */
import assert from "node:assert/strict";
import { eventually, http, newUser, withEnv } from "./harness.ts";

Deno.test("each service serves /metrics in Prometheus text format", async () => {
  await withEnv({ SNAPSHOT_INTERVAL_MS: "500" }, async (env) => {
    await env.startAll();
    const user = await newUser(env.api);
    await http(env.api, "GET", "/balance", { token: user.token });
    const scrape = async (url: string) => {
      const response = await fetch(url);
      assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0.0.4/);
      return await response.text();
    };
    const api = await scrape(`http://127.0.0.1:${env.ports.apiMetrics}/metrics`);
    assert.match(
      api,
      /api_requests_total\{method="POST",route="\/api\/v1\/signup",status="201"\} 1/,
    );
    assert.match(
      api,
      /api_request_duration_seconds_bucket\{route="\/api\/v1\/balance",le="\+Inf"\} 1/,
    );
    const engine = await eventually("a snapshot in the engine's metrics", async () => {
      const text = await scrape(`http://127.0.0.1:${env.ports.engineMetrics}/metrics`);
      return /engine_snapshot_age_seconds \d/.test(text) ? text : undefined;
    });
    assert.match(engine, /engine_entries_applied_total [1-9]/);
    assert.match(engine, /engine_stream_lag_entries \d+/);
    assert.match(engine, /engine_snapshot_duration_ms \d/);
    assert.match(engine, /engine_accounts 1/);
    const ws = new WebSocket(`ws://127.0.0.1:${env.ports.gateway}/ws`);
    await new Promise((resolve) => ws.onopen = resolve);
    const gateway = await scrape(`http://127.0.0.1:${env.ports.gatewayMetrics}/metrics`);
    assert.match(gateway, /gateway_clients 1/);
    ws.close();
    const poller = await eventually("quotes in the poller's metrics", async () => {
      const text = await scrape(`http://127.0.0.1:${env.ports.pollerMetrics}/metrics`);
      return /poller_quotes_appended_total [1-9]/.test(text) ? text : undefined;
    });
    assert.match(poller, /poller_reconnects_total \d/);
    assert.match(poller, /poller_feed_open 1/);
  });
});
