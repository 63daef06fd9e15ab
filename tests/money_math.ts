/**
 * An independent check of the engine's arithmetic, from the decimal strings clients see:
 * exact rationals with bigint, no shared code with the engine.
 */
function fraction(text: string): [bigint, bigint] {
  const [whole, frac = ""] = text.replace("-", "").split(".");
  const sign = text.startsWith("-") ? -1n : 1n;
  return [sign * BigInt(whole! + frac), 10n ** BigInt(frac.length)];
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** floor((exit − entry) × qty × 100) for a long, the negation's floor for a short, in cents. */
export function expectedPnlCents(
  side: "long" | "short",
  open: string,
  close: string,
  qty: string,
): bigint {
  const [on, od] = fraction(open);
  const [cn, cd] = fraction(close);
  const [qn, qd] = fraction(qty);
  const diffNum = side === "long" ? cn * od - on * cd : on * cd - cn * od;
  return floorDiv(diffNum * qn * 100n, cd * od * qd);
}

/** floor(margin × leverage / price) in units of 1e-8, as a decimal string. */
export function expectedQuantity(marginCents: number, leverage: number, price: string): string {
  const [pn, pd] = fraction(price);
  const units = BigInt(marginCents) * BigInt(leverage) * pd * 1_000_000n / pn;
  const text = units.toString().padStart(9, "0");
  return `${text.slice(0, -8)}.${text.slice(-8)}`.replace(/\.?0+$/, "");
}
