/**
 * The WebSocket message of the `account` channel: `{"type":"account","balance","locked",
 * "pending","equity"}`, the figures an order event carries (its `account`), cents as JSON numbers
 * written from their digits (`toApiJson`). Sent after every change of the user's money.
 */
import { type AccountFigures, toApiJson } from "@trading/shared/schemas";

export function accountMessage(figures: AccountFigures): string {
  const { balance, locked, pending, equity } = figures;
  return toApiJson({ type: "account", balance, locked, pending, equity });
}
