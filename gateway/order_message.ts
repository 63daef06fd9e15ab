/**
 * The WebSocket message of an order event on `{e0}:output`: `{"type":"order","event", ...the
 * result's fields, "side"}`, cents as JSON numbers written from their digits (`toApiJson`).
 *
 * The message's `type` is "order", so an order's long/short travels as `side`, everywhere in the
 * message (a partial close's `remaining` too). A `modified` event is flattened: the position's
 * `/trades/open` view (with `"status": "open"`) or the pending order's view, as the REST answer
 * of `/trade/modify`. A `margin_call` is `{"type":"order","event":"margin_call","orderId",
 * "asset","side","liquidationPrice","warningPrice"}`. A `reset` is no order's: the `account`
 * channel tells it (account_message.ts). An event this gateway does not know gives no message
 * (it is skipped).
 */
import { toApiJson, type TriggerEvent } from "@trading/shared/schemas";

type EventResult = TriggerEvent["result"];

/** An order-like view with its `type` renamed `side`. */
function sided<T extends { type: "long" | "short" }>(
  view: T,
): Omit<T, "type"> & { side: "long" | "short" } {
  const { type, ...fields } = view;
  return { ...fields, side: type };
}

/** The message's fields for a known event; undefined for any other. */
export function orderMessageFields(result: EventResult): Record<string, unknown> | undefined {
  switch (result.event) {
    case "opened":
    case "closed":
    case "placed":
    case "filled":
    case "cancelled":
    case "expired":
    case "margin_call":
      return { type: "order", ...sided(result) };
    case "partially_closed": {
      const { remaining, ...close } = result;
      return { type: "order", ...sided(close), remaining: sided(remaining) };
    }
    case "modified": {
      const { position, order } = result;
      if (position !== undefined) {
        return { type: "order", event: "modified", ...sided(position), status: "open" };
      }
      if (order !== undefined) return { type: "order", event: "modified", ...sided(order) };
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The message's JSON text, or undefined when the event is not one to send. */
export function orderMessage(result: EventResult): string | undefined {
  const fields = orderMessageFields(result);
  return fields === undefined ? undefined : toApiJson(fields);
}
