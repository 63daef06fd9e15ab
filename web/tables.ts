/**
 * The page's table rows: open positions (with their stop-loss/take-profit and partial-close
 * editor), pending orders and closed trades. Rows carry `data-order-id`; the actions are the
 * caller's (app.ts calls the API, and the WebSocket's events change the tables).
 */
import type { Asset } from "@trading/shared/assets";
import { price, priceUnits, time, usd } from "./format.ts";
import {
  type ClosedTrade,
  type OpenTrade,
  partToClose,
  type PendingOrder,
  percentOf,
  typedPrice,
} from "./orders.ts";

/** A decimal price from the API in the page's format, or a dash when there is none. */
export function shown(asset: Asset, text: string | undefined): string {
  return text === undefined ? "–" : price(asset, priceUnits(asset, text));
}

export function cell(row: HTMLTableRowElement, text: string, className = ""): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

export function emptyRow(text: string, columns: number): HTMLTableRowElement {
  const row = document.createElement("tr");
  cell(row, text, "empty").colSpan = columns;
  return row;
}

function button(text: string, className: string, onClick: (b: HTMLButtonElement) => void) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.className = className;
  b.addEventListener("click", () => onClick(b));
  return b;
}

export const POSITION_COLUMNS = 11;

export function positionRow(
  trade: OpenTrade,
  editing: boolean,
  actions: { edit(): void; close(button: HTMLButtonElement): void },
): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset.orderId = trade.orderId;
  cell(row, trade.asset);
  cell(row, trade.type, trade.type === "long" ? "up" : "down");
  cell(row, usd(trade.margin), "margin");
  cell(row, `${trade.leverage}×`);
  cell(row, trade.quantity, "quantity");
  cell(row, shown(trade.asset, trade.openPrice));
  cell(row, shown(trade.asset, trade.liquidationPrice), "liquidation");
  cell(row, shown(trade.asset, trade.stopLoss), "stop-loss");
  cell(row, shown(trade.asset, trade.takeProfit), "take-profit");
  cell(row, "–", "pnl");
  const buttons = row.insertCell();
  buttons.append(
    button(editing ? "Done" : "Edit", "edit", actions.edit),
    button("Close", "close", actions.close),
  );
  return row;
}

export interface EditorActions {
  /** `null` removes a level. */
  save(levels: { stopLoss: string | null; takeProfit: string | null }, b: HTMLButtonElement): void;
  closePart(quantity: string, b: HTMLButtonElement): void;
  problem(text: string): void;
}

/**
 * The editor under a position's row: its stop-loss and take-profit (empty removes one), and a
 * part to close, typed or as 25/50/75 % of the position (floored to 10^-8). Made once per
 * editing and kept across renders, so what the user typed stays.
 */
export function positionEditor(
  trade: OpenTrade,
  current: () => OpenTrade | undefined,
  actions: EditorActions,
): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.className = "editor";
  row.dataset.editorOf = trade.orderId;
  const td = cell(row, "");
  td.colSpan = POSITION_COLUMNS;
  const input = (name: string, value: string, placeholder: string) => {
    const field = document.createElement("input");
    field.className = name;
    field.value = value;
    field.placeholder = placeholder;
    field.inputMode = "decimal";
    return field;
  };
  const group = (...children: HTMLElement[]) => {
    const span = document.createElement("span");
    span.className = "group";
    span.append(...children);
    return span;
  };
  const label = (text: string) => {
    const l = document.createElement("label");
    l.textContent = text;
    return l;
  };
  const stopLoss = input("edit-stop-loss", trade.stopLoss ?? "", "none");
  const takeProfit = input("edit-take-profit", trade.takeProfit ?? "", "none");
  const save = button("Save levels", "save-levels", (b) => {
    const levels: { stopLoss: string | null; takeProfit: string | null } = {
      stopLoss: null,
      takeProfit: null,
    };
    for (
      const [name, field, words] of [["stopLoss", stopLoss, "Stop-loss"], [
        "takeProfit",
        takeProfit,
        "Take-profit",
      ]] as const
    ) {
      const example = priceUnits(trade.asset, trade.openPrice);
      const typed = typedPrice(trade.asset, field.value, words, example);
      if (typeof typed === "object") return actions.problem(typed.error);
      levels[name] = typed ?? null;
    }
    actions.save(levels, b);
  });
  const part = input("part-quantity", "", "quantity");
  // The position is read when clicked: a partial close since may have changed its quantity.
  const quantity = () => current()?.quantity ?? trade.quantity;
  const percents = [25, 50, 75].map((percent) =>
    button(`${percent}%`, `percent-${percent}`, () => {
      part.value = percentOf(quantity(), percent);
    })
  );
  const closePart = button("Close part", "close-part", (b) => {
    const checked = partToClose(part.value, quantity());
    if (typeof checked === "string") return actions.problem(checked);
    actions.closePart(checked.quantity, b);
  });
  td.append(
    group(label("Stop-loss"), stopLoss, label("Take-profit"), takeProfit, save),
    group(label("Close quantity"), part, ...percents, closePart),
  );
  return row;
}

export const PENDING_COLUMNS = 10;

export function pendingRow(
  order: PendingOrder,
  cancel: (button: HTMLButtonElement) => void,
): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset.orderId = order.orderId;
  cell(row, order.asset);
  cell(row, order.type, order.type === "long" ? "up" : "down");
  cell(row, order.orderType, "order-type");
  cell(row, usd(order.margin));
  cell(row, `${order.leverage}×`);
  cell(row, shown(order.asset, order.triggerPrice), "trigger");
  cell(row, shown(order.asset, order.stopLoss));
  cell(row, shown(order.asset, order.takeProfit));
  cell(row, order.expiresAt === undefined ? "never" : time(order.expiresAt));
  row.insertCell().append(button("Cancel", "cancel", cancel));
  return row;
}

export const HISTORY_COLUMNS = 10;

export function historyRow(trade: ClosedTrade): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset.orderId = trade.orderId;
  row.dataset.closeId = trade.closeId;
  cell(row, trade.asset);
  cell(row, trade.type);
  // What this close released: a part's margin for a partial close.
  cell(row, usd(trade.releasedMargin ?? trade.margin));
  cell(row, trade.closedQuantity ?? trade.quantity);
  cell(row, shown(trade.asset, trade.openPrice));
  cell(row, shown(trade.asset, trade.closePrice));
  cell(row, usd(trade.pnl), trade.pnl < 0n ? "down" : "up");
  // The commission of this close (`pnl` excludes it); a dash from an API without fees.
  cell(row, trade.fee === undefined ? "–" : usd(trade.fee), "fee");
  cell(row, trade.reason.replace("_", "-"));
  cell(row, time(trade.closedAt));
  return row;
}
