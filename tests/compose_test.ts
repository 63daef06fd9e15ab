/**
 * Docker is not available on our machines, so compose.yaml is checked against the code: every
 * service it runs exists, every variable it sets is one the config reads, every port matches.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseConfig } from "@trading/shared/config";

const root = new URL("../", import.meta.url);

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, unknown>;
}

Deno.test("compose.yaml names only services, ports and variables that exist", async () => {
  const compose = parse(await Deno.readTextFile(new URL("compose.yaml", root)), {
    merge: true,
  }) as {
    services: Record<string, Service>;
  };
  const services = compose.services;
  assert.deepEqual(Object.keys(services).sort(), [
    "api",
    "engine",
    "gateway",
    "poller",
    "postgres",
    "redis",
  ]);
  assert.ok(
    services.redis!.command!.join(" ").includes("--appendonly yes"),
    "Redis must run with AOF",
  );
  assert.ok(services.postgres!.healthcheck && services.redis!.healthcheck);

  const configSource = await Deno.readTextFile(new URL("shared/config.ts", root));
  for (const name of ["engine", "api", "poller", "gateway"]) {
    const service = services[name]!;
    const script = service.command!.at(-1)!;
    await Deno.stat(new URL(script, root)); // the entry point exists
    assert.equal(script, `${name}/main.ts`);
    assert.ok(
      service.image?.startsWith("denoland/deno:"),
      `${name} runs on the official Deno image`,
    );
    assert.ok(
      service.depends_on?.redis && service.depends_on?.postgres,
      `${name} waits for its services`,
    );
    const env = service.environment ?? {};
    assert.match(
      env.JWT_SECRET ?? "",
      /^\$\{JWT_SECRET/,
      `${name} takes JWT_SECRET from the environment`,
    );
    for (const variable of Object.keys(env)) {
      assert.ok(
        configSource.includes(`${variable}:`),
        `${name} sets ${variable}, which the config does not read`,
      );
    }
    // The values compose gives must pass the config's own validation.
    const resolved = Object.fromEntries(
      Object.entries(env).map((
        [k, v],
      ) => [k, v.replace(/\$\{[A-Z_]+(:-([^}]*))?[^}]*\}/, (_m, _d, fallback) => fallback ?? "")]),
    );
    parseConfig({ ...resolved, JWT_SECRET: "x".repeat(32) });
  }
  assert.deepEqual(services.api!.ports, [
    `${parseConfig({ JWT_SECRET: "x".repeat(32) }).apiPort}:3000`,
  ]);
  assert.deepEqual(services.gateway!.ports, [
    `${parseConfig({ JWT_SECRET: "x".repeat(32) }).gatewayPort}:3001`,
  ]);
  assert.match(services.api!.healthcheck!.test.join(" "), /\/api\/v1\/health/);
  assert.match(services.gateway!.healthcheck!.test.join(" "), /:3001\/health/);
});
