export * from "./money.ts";
export * from "./assets.ts";
export * from "./config.ts";
export * from "./schemas/input.ts";
export * from "./schemas/output.ts";
