export * from "./money.ts";
export * from "./position_math.ts";
export * from "./assets.ts";
export * from "./config.ts";
export * from "./log.ts";
export * from "./redis.ts";
export * from "./db.ts";
export * from "./schemas/mod.ts";
