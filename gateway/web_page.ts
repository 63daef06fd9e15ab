/**
 * The trading web page the gateway serves at `/`: the HTML, the client bundled from
 * web/app.ts with `deno bundle` when the gateway starts (so it always matches the code), and
 * /config.json telling the page where the API is and the engine's maintenance margin.
 */
import type { Logger } from "@trading/shared/log";

export interface WebPageOptions {
  /** Where the page calls the API; by default the page's own host on `apiPort`. */
  apiBase?: string;
  apiPort: number;
  mmrBps: number;
  /** The commission the ticket previews (FEE_BPS; 0 when absent). */
  feeBps?: number;
  log: Logger;
}

const WEB_DIR = new URL("../web/", import.meta.url);
const ROOT_CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** Bundles the page's script; throws with deno bundle's own words when it fails. */
export async function bundleWebApp(): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--config",
      ROOT_CONFIG,
      new URL("app.ts", WEB_DIR).pathname,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** Starts bundling and returns the gateway's fallback handler for the page's routes. */
export function webPage(
  options: WebPageOptions,
): (request: Request) => Promise<Response | undefined> {
  const html = Deno.readTextFile(new URL("index.html", WEB_DIR));
  const script = bundleWebApp();
  script.catch((error) => options.log.error("the web page's script did not bundle", { error }));
  const pageConfig = JSON.stringify({
    apiBase: options.apiBase,
    apiPort: options.apiPort,
    mmrBps: options.mmrBps,
    feeBps: options.feeBps ?? 0,
  });
  return async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") return undefined;
    const { pathname } = new URL(request.url);
    if (pathname === "/" || pathname === "/index.html") {
      return new Response(await html, {
        headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS },
      });
    }
    if (pathname === "/app.js") {
      try {
        return new Response(await script, {
          headers: { "content-type": "text/javascript; charset=utf-8", ...SECURITY_HEADERS },
        });
      } catch {
        return new Response("// the page's script failed to bundle; see the gateway's log", {
          status: 503,
          headers: { "content-type": "text/javascript; charset=utf-8" },
        });
      }
    }
    if (pathname === "/config.json") {
      return new Response(pageConfig, {
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    }
    return undefined;
  };
}
