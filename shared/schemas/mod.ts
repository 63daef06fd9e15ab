export * from "./patterns.ts";
export * from "./price.ts";
export * from "./input.ts";
export * from "./flat.ts";
export * from "./output.ts";
