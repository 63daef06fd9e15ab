/**
 * The gateway as a library (its process is `main.ts`): the WebSocket server and the web page
 * it serves at `/`.
 */
export {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_BUFFERED_BYTES_TOTAL,
  type Gateway,
  type GatewayOptions,
  MAX_MESSAGE_BYTES,
  startGateway,
} from "./server.ts";
export { bundleWebApp, webPage, type WebPageOptions } from "./web_page.ts";
