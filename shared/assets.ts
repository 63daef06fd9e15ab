/** The tradable assets, their Backpack markets and the fixed integer scale of their prices. */
export const ASSET_SYMBOLS = ["BTC", "ETH", "SOL"] as const;
export type Asset = typeof ASSET_SYMBOLS[number];

export interface AssetInfo {
  symbol: Asset;
  name: string;
  /** Backpack perpetual market whose bookTicker prices this asset. */
  market: string;
  /** Prices are integers in units of 10^-priceDecimals USD. */
  priceDecimals: number;
  imageUrl: string;
}

// Backpack's tick sizes are 0.1 (BTC), 0.01 (ETH) and 0.01 (SOL); the scales leave headroom so
// a finer tick later does not make every quote unparseable.
export const ASSETS: Readonly<Record<Asset, AssetInfo>> = {
  BTC: {
    symbol: "BTC",
    name: "Bitcoin",
    market: "BTC_USDC_PERP",
    priceDecimals: 2,
    imageUrl: "https://backpack.exchange/coins/btc.png",
  },
  ETH: {
    symbol: "ETH",
    name: "Ethereum",
    market: "ETH_USDC_PERP",
    priceDecimals: 2,
    imageUrl: "https://backpack.exchange/coins/eth.png",
  },
  SOL: {
    symbol: "SOL",
    name: "Solana",
    market: "SOL_USDC_PERP",
    priceDecimals: 4,
    imageUrl: "https://backpack.exchange/coins/sol.png",
  },
};

export function isAsset(value: unknown): value is Asset {
  return typeof value === "string" && (ASSET_SYMBOLS as readonly string[]).includes(value);
}
