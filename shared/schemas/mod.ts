export * from "./input.ts";
export * from "./output.ts";
