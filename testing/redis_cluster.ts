/**
 * A private Redis Cluster for a test: `masters` redis-server processes in cluster mode (no
 * replicas, no persistence), each in a temporary folder of its own, joined by
 * `redis-cli --cluster create`, and waited on until every node sees every slot served.
 */
import { Cluster, type ClusterOptions, Redis } from "ioredis";
import { freePort, sleep } from "./wait.ts";

const HOST = "127.0.0.1";
/** A node's cluster bus listens on its port + 10000. */
const BUS_OFFSET = 10_000;
const SLOTS = 16_384;
/** Starts tried when a port turns out to be taken between its choice and the server's bind. */
const ATTEMPTS = 5;
const NODE_START_MS = 10_000;
const CREATE_MS = 60_000;
const CONVERGE_MS = 30_000;
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

export interface RedisClusterHandle {
  /** The seed nodes as `REDIS_CLUSTER_NODES` takes them: "127.0.0.1:p1,127.0.0.1:p2,…". */
  nodes: string;
  ports: number[];
  /** The redis-server processes' ids, in the order of `ports`. */
  pids: number[];
  /** A new ioredis Cluster client; it is disconnected by `destroy` if still open then. */
  client(options?: ClusterOptions): Cluster;
  /** Disconnects the clients still open, kills the servers (SIGKILL), removes their folders. */
  destroy(): Promise<void>;
}

export class RedisClusterError extends Error {
  override name = "RedisClusterError";
}

/** "host:port,host:port" as ioredis's Cluster takes its seed nodes. */
export function parseClusterNodes(nodes: string): Array<{ host: string; port: number }> {
  return nodes.split(",").map((node) => {
    const at = node.lastIndexOf(":");
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
  });
}

interface Node {
  port: number;
  dir: string;
  child: Deno.ChildProcess;
}

function listenable(port: number): boolean {
  try {
    Deno.listen({ hostname: HOST, port }).close();
    return true;
  } catch {
    return false;
  }
}

/** `count` free ports whose bus ports (+10000, below 65536) are free too, all distinct. */
function pickPorts(count: number): number[] {
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 1000) throw new RedisClusterError("found no free port pairs (p and p+10000)");
    const port = freePort();
    const bus = port + BUS_OFFSET;
    if (bus >= 65_536 || taken.has(port) || taken.has(bus) || !listenable(bus)) continue;
    taken.add(port).add(bus);
    ports.push(port);
  }
  return ports;
}

/**
 * One command on a short-lived connection to a node. Rejects at once if nothing listens, and
 * after a second if what listens does not answer (a port of someone else's).
 */
async function command(port: number, name: string, ...args: string[]): Promise<string> {
  const redis = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer on ${port} within 1 s`)), 1000);
  });
  try {
    return await Promise.race([
      redis.connect().then(() => redis.call(name, ...args)).then(String),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

async function readLog(node: Node): Promise<string> {
  const text = await Deno.readTextFile(`${node.dir}/redis.log`).catch(() => "");
  // The advice on vm.overcommit_memory is of no use here and longer than the rest.
  const lines = text.trim().split("\n").filter((line) => !line.includes("overcommit"));
  return lines.slice(-12).join("\n");
}

function spawnNode(port: number, dir: string): Node {
  const child = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      HOST,
      "--dir",
      dir,
      "--logfile",
      `${dir}/redis.log`,
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-node-timeout",
      "5000",
      "--appendonly",
      "no",
      "--save",
      "",
      "--daemonize",
      "no",
    ],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return { port, dir, child };
}

/**
 * Waits until the node answers as this very process (its INFO process_id), so a server of
 * someone else's on the port is not taken for ours. "exited": it stopped first (its log says why).
 */
async function nodeUp(node: Node): Promise<"up" | "exited" | "timeout"> {
  let exited = false;
  node.child.status.then(() => exited = true);
  const deadline = Date.now() + NODE_START_MS;
  while (Date.now() < deadline) {
    if (exited) return "exited";
    try {
      // Or its exit, which a port held by a process that accepts but never answers would hide.
      const info = await Promise.race([
        command(node.port, "INFO", "server"),
        node.child.status.then(() => ""),
      ]);
      if (info.includes(`process_id:${node.child.pid}\r`)) return "up";
    } catch {
      // not listening yet
    }
    await sleep(exited ? 0 : 20);
  }
  return exited ? "exited" : "timeout";
}

async function killNodes(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map(async (node) => {
    try {
      node.child.kill("SIGKILL");
    } catch {
      // gone already
    }
    await node.child.status;
    await Deno.remove(node.dir, { recursive: true }).catch(() => {});
  }));
}

/** The nodes, all up; a port found taken (another process bound it first) means new ports. */
async function startNodes(count: number): Promise<Node[]> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const nodes: Node[] = [];
    try {
      for (const port of pickPorts(count)) {
        const dir = await Deno.makeTempDir({ prefix: `redis-cluster-${port}-` });
        try {
          nodes.push(spawnNode(port, dir));
        } catch (error) {
          await Deno.remove(dir, { recursive: true }).catch(() => {});
          throw error instanceof Deno.errors.NotFound
            ? new RedisClusterError("redis-server is not on PATH (apt-get install redis-server)")
            : error;
        }
      }
      const states = await Promise.all(nodes.map(nodeUp));
      if (states.every((state) => state === "up")) return nodes;
      const logs = await Promise.all(nodes.map(readLog));
      const collided = logs.some((log) => /in use|listening socket|failed listening/i.test(log));
      failures.push(
        ...nodes.flatMap((node, i) =>
          states[i] === "up" ? [] : [`node ${node.port} (${states[i]}):\n${logs[i]}`]
        ),
      );
      await killNodes(nodes);
      if (!collided) break;
    } catch (error) {
      await killNodes(nodes);
      throw error;
    }
  }
  throw new RedisClusterError(
    `redis-server did not start in cluster mode:\n${failures.slice(-count).join("\n")}`,
  );
}

async function createCluster(ports: number[]): Promise<void> {
  const result = await new Deno.Command("redis-cli", {
    args: [
      "--cluster",
      "create",
      ...ports.map((port) => `${HOST}:${port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CREATE_MS),
  }).output().catch((error) => {
    throw new RedisClusterError(
      error instanceof Deno.errors.NotFound
        ? "redis-cli is not on PATH (apt-get install redis-tools)"
        : `redis-cli --cluster create: ${error}`,
    );
  });
  const decoder = new TextDecoder();
  // redis-cli colours its lines even into a pipe: the escapes are dropped from the message.
  const output = `${decoder.decode(result.stdout)}${decoder.decode(result.stderr)}`
    .replace(ANSI_COLOUR, "").trim();
  if (!result.success || !output.includes(`All ${SLOTS} slots covered`)) {
    throw new RedisClusterError(
      `redis-cli --cluster create failed (code ${result.code}${
        result.signal ? `, ${result.signal}` : ""
      }):\n${output}`,
    );
  }
}

/** Until every node reports the cluster ok, every slot assigned and ok, and all its peers. */
async function converged(ports: number[]): Promise<void> {
  const deadline = Date.now() + CONVERGE_MS;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await Promise.all(
      ports.map((port) => command(port, "CLUSTER", "INFO").catch((error) => String(error))),
    );
    const ok = last.every((info) =>
      info.includes("cluster_state:ok") &&
      info.includes(`cluster_slots_assigned:${SLOTS}`) &&
      info.includes(`cluster_slots_ok:${SLOTS}`) &&
      info.includes(`cluster_known_nodes:${ports.length}\r`)
    );
    if (ok) return;
    await sleep(50);
  }
  throw new RedisClusterError(
    `the cluster did not converge within ${CONVERGE_MS} ms:\n` +
      ports.map((port, i) => `node ${port}:\n${last[i]}`).join("\n"),
  );
}

/** Starts a private cluster of `masters` (default 3, at least 3) masters without replicas. */
export async function startRedisCluster(
  options: { masters?: number } = {},
): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new RedisClusterError(`a Redis Cluster needs at least 3 masters, not ${masters}`);
  }
  const nodes = await startNodes(masters);
  const ports = nodes.map((node) => node.port);
  try {
    await createCluster(ports);
    await converged(ports);
  } catch (error) {
    const logs = await Promise.all(nodes.map(readLog));
    await killNodes(nodes);
    const tails = nodes.map((node, i) => `node ${node.port}:\n${logs[i]}`).join("\n");
    if (error instanceof Error) error.message += `\n--- node logs ---\n${tails}`;
    throw error;
  }
  const clients = new Set<Cluster>();
  let destroyed: Promise<void> | undefined;
  const seeds = ports.map((port) => `${HOST}:${port}`).join(",");
  return {
    nodes: seeds,
    ports,
    pids: nodes.map((node) => node.child.pid),
    client(clientOptions?: ClusterOptions) {
      const client = new Cluster(parseClusterNodes(seeds), clientOptions);
      clients.add(client);
      client.once("end", () => clients.delete(client));
      return client;
    },
    destroy() {
      destroyed ??= (async () => {
        for (const client of clients) client.disconnect();
        clients.clear();
        await killNodes(nodes);
      })();
      return destroyed;
    },
  };
}
