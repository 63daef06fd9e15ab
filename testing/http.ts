/** A small HTTP client for the API, a new user signed up and in, and a wait for prices. */
import { eventually } from "./wait.ts";

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export async function http<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string>; raw?: string } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined || options.raw !== undefined) {
    headers["content-type"] ??= "application/json";
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(base + path, {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: body as T, headers: response.headers };
}

/** Signs a new user up and in; returns its id and token. */
export async function newUser(
  base: string,
): Promise<{ userId: string; token: string; email: string }> {
  const email = `user-${crypto.randomUUID()}@example.com`;
  const signup = await http<{ userId: string }>(base, "POST", "/signup", {
    body: { email, password: "correct horse battery" },
  });
  if (signup.status !== 201) {
    throw new Error(`signup: ${signup.status} ${JSON.stringify(signup.body)}`);
  }
  const signin = await http<{ token: string }>(base, "POST", "/signin", {
    body: { email, password: "correct horse battery" },
  });
  if (signin.status !== 200) throw new Error(`signin: ${signin.status}`);
  return { userId: signup.body.userId, token: signin.body.token, email };
}

/** Waits until the API quotes every asset (the feed reached the engine and came back). */
export async function waitForPrices(base: string): Promise<void> {
  await eventually("prices", async () => {
    const { body } = await http<{ prices: unknown[] }>(base, "GET", "/prices");
    return body.prices.length === 3;
  });
}
