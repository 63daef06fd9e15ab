/**
 * The API as a library (its process is `main.ts`): the Hono app built from its dependencies,
 * and its link to the engine over Redis.
 */
export { BASE_PATH, buildApp, MAX_BODY_BYTES } from "./app.ts";
export type { ApiDeps } from "./deps.ts";
export {
  type ApiQuote,
  EngineClient,
  type EngineClientOptions,
  type EngineGateway,
  EngineTimeoutError,
  EngineUnavailableError,
} from "./engine_client.ts";
