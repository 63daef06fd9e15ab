/** A small Prometheus registry: counters, gauges and histograms, rendered as text format. */
type Labels = Record<string, string>;

const NEEDS_ESCAPE = /[\\"\n]/;

/** A series' label set as text (names sorted); on every request's path, so no allocation spree. */
function key(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  if (names.length > 1) names.sort();
  let text = "";
  for (const name of names) {
    const value = labels[name]!;
    const escaped = NEEDS_ESCAPE.test(value)
      ? value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")
      : value;
    text += `${text === "" ? "" : ","}${name}="${escaped}"`;
  }
  return text;
}

interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(): string[];
}

export class Counter implements Metric {
  readonly type = "counter";
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  render(): string[] {
    if (this.#values.size === 0) return [`${this.name} 0`];
    return [...this.#values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ""} ${v}`);
  }
}

export class Gauge implements Metric {
  readonly type = "gauge";
  readonly #values = new Map<string, () => number>();
  constructor(readonly name: string, readonly help: string) {}
  /** The value is read when scraped. */
  track(read: () => number, labels: Labels = {}): void {
    this.#values.set(key(labels), read);
  }
  render(): string[] {
    return [...this.#values].map(([k, read]) => `${this.name}${k ? `{${k}}` : ""} ${read()}`);
  }
}

export class Histogram implements Metric {
  readonly type = "histogram";
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.#series.get(k);
    if (s === undefined) {
      this.#series.set(
        k,
        s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 },
      );
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render(): string[] {
    const lines: string[] = [];
    for (const [k, s] of this.#series) {
      const sep = k ? `${k},` : "";
      this.buckets.forEach((bound, i) =>
        lines.push(`${this.name}_bucket{${sep}le="${bound}"} ${s.counts[i]}`)
      );
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines;
  }
}

export class Registry {
  readonly #metrics: Metric[] = [];
  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.#add(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }
  #add<M extends Metric>(metric: M): M {
    this.#metrics.push(metric);
    return metric;
  }
  render(): string {
    return this.#metrics.flatMap((
      m,
    ) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render()])
      .join("\n") + "\n";
  }
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Serves `/metrics` alone, on its own port, apart from any public one. A port already in use
 * costs the metrics, not the process: it is reported and undefined is returned. `hostname` is
 * where it listens: config.metricsHost, private unless an operator opens it.
 */
export function serveMetrics(
  registry: Registry,
  port: number,
  onError: (error: unknown) => void,
  hostname: string,
): Deno.HttpServer | undefined {
  try {
    return Deno.serve(
      { port, hostname, onListen: () => {} },
      (request) =>
        new URL(request.url).pathname === "/metrics"
          ? new Response(registry.render(), {
            headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
          })
          : new Response("not found", { status: 404 }),
    );
  } catch (error) {
    onError(error);
    return undefined;
  }
}
