/**
 * The gateway serves the trading page (the browser run is e2e/browser_test.ts): the HTML, the
 * script bundled from web/app.ts, the page's config, and the API answers CORS from the page's
 * origin by default and from no other.
 */
import assert from "node:assert/strict";
import { withEnv } from "./harness.ts";

Deno.test("the gateway serves the web page, its bundled script and config; the API lets it call", async () => {
  await withEnv({ FEE_BPS: "7" }, async (env) => {
    await env.startApi();
    await env.startGateway();
    const site = `http://127.0.0.1:${env.ports.gateway}`;

    const page = await fetch(`${site}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const html = await page.text();
    assert.match(html, /Order ticket/);
    assert.match(html, /src="\/app\.js"/);

    const script = await fetch(`${site}/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get("content-type") ?? "", /javascript/);
    const code = await script.text();
    assert.ok(code.length > 5000, `a bundle, not a stub: ${code.length} bytes`);
    assert.ok(!/^\s*import\s/m.test(code), "bundled: no imports left for the browser to fetch");
    assert.match(code, /BTC_USDC_PERP/); // the shared asset table came along

    const config = await (await fetch(`${site}/config.json`)).json();
    // The fee rate the ticket previews is the configured one.
    assert.deepEqual(config, { apiPort: env.ports.api, mmrBps: 50, feeBps: 7 });

    const missing = await fetch(`${site}/nope`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);

    for (const origin of [`http://localhost:${env.ports.gateway}`, "https://evil.example"]) {
      const preflight = await fetch(`${env.api}/trade/create`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type",
        },
      });
      await preflight.body?.cancel();
      const allowed = preflight.headers.get("access-control-allow-origin");
      assert.equal(allowed, origin.includes("evil") ? null : origin, `CORS for ${origin}`);
    }
  });
});
