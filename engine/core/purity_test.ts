/**
 * engine/core must stay a pure state machine: no clock, randomness, environment or IO. This
 * test reads the sources of the core and of every shared module it imports, and fails on any
 * import outside the allowlist or any use of an impure global.
 */
import assert from "node:assert/strict";

const coreDir = new URL("./", import.meta.url);
const sharedDir = new URL("../../shared/", import.meta.url);

/** Shared modules the core may use: each is itself checked for purity below. */
const SHARED_MODULES: Record<string, URL> = {
  "@trading/shared/money": new URL("money.ts", sharedDir),
  "@trading/shared/assets": new URL("assets.ts", sharedDir),
  "@trading/shared/position_math": new URL("position_math.ts", sharedDir),
  "@trading/shared/schemas": new URL("schemas/mod.ts", sharedDir),
};
const PACKAGES = new Set(["zod"]);
/** node:crypto for SHA-256 only; its random functions are caught by FORBIDDEN. */
const NODE_MODULES = new Set(["node:crypto"]);

const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bDate\b/, "the clock (Date)"],
  [/\bperformance\b/, "the clock (performance)"],
  [/\bMath\.random\b/, "randomness (Math.random)"],
  [/\brandom(UUID|Bytes|Int|Fill)\b|getRandomValues/, "randomness (crypto)"],
  [/\bDeno\./, "the Deno runtime (env, files, network)"],
  [/\bprocess\./, "the process (env)"],
  [/\b(setTimeout|setInterval|queueMicrotask)\b/, "timers"],
  [/\bfetch\(|\bWebSocket\b|\bXMLHttpRequest\b/, "the network"],
  [/\bconsole\./, "logging (IO)"],
];

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']/g;

function sourceFiles(dir: URL): URL[] {
  return [...Deno.readDirSync(dir)]
    .filter((entry) =>
      entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")
    )
    .map((entry) => new URL(entry.name, dir));
}

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

function violations(file: URL, seen: Set<string>): string[] {
  if (seen.has(file.href)) return [];
  seen.add(file.href);
  const source = withoutComments(Deno.readTextFileSync(file));
  const found: string[] = [];
  for (const [pattern, what] of FORBIDDEN) {
    if (pattern.test(source)) found.push(`${file.pathname}: uses ${what}`);
  }
  for (const match of source.matchAll(IMPORT_RE)) {
    const specifier = match[1]!;
    if (specifier.startsWith(".")) {
      const target = new URL(specifier, file);
      const inside = target.href.startsWith(coreDir.href) || target.href.startsWith(sharedDir.href);
      if (!inside) found.push(`${file.pathname}: imports ${specifier} from outside the core`);
      else found.push(...violations(target, seen));
    } else if (specifier in SHARED_MODULES) {
      found.push(...violations(SHARED_MODULES[specifier]!, seen));
    } else if (!PACKAGES.has(specifier) && !NODE_MODULES.has(specifier)) {
      found.push(`${file.pathname}: imports ${specifier}, which is not on the core's allowlist`);
    }
  }
  return found;
}

Deno.test("engine/core imports nothing impure and uses no clock, randomness, env or IO", () => {
  const files = sourceFiles(coreDir);
  assert.ok(files.length >= 8, "core sources not found");
  const seen = new Set<string>();
  const found = files.flatMap((file) => violations(file, seen));
  assert.deepEqual(found, []);
});

Deno.test("the purity check catches an impure line", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const file = new URL(`file://${dir}/bad.ts`);
    Deno.writeTextFileSync(file, `import x from "npm:left-pad";\nexport const now = Date.now();\n`);
    const found = violations(file, new Set());
    assert.equal(found.length, 2, found.join("\n"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
