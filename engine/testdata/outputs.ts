/** Output fixtures for the history tests: an opened order and its close. */
export const ORDER = {
  orderId: "7",
  asset: "BTC",
  type: "long" as const,
  margin: "1000",
  leverage: 10,
  openPrice: "97000.5",
  quantity: "0.001",
  liquidationPrice: "87785",
  openedAt: 1_700_000_000_000,
};

export const CLOSED = {
  ...ORDER,
  event: "closed" as const,
  closePrice: "97100",
  pnl: "9",
  balance: "10009",
  closedAt: 1_700_000_001_000,
  reason: "manual" as const,
};
