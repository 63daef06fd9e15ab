/** The benchmarks need Redis on 6379 and Postgres on 5432: start them if they are down. */
async function open(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

export async function ensureServices(): Promise<void> {
  if (!await open(6379)) {
    await new Deno.Command("redis-server", {
      args: [
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "--port",
        "6379",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
    }).output();
  }
  if (!await open(5432)) {
    const versions = [...Deno.readDirSync("/etc/postgresql")].map((e) => e.name);
    await new Deno.Command("pg_ctlcluster", {
      args: ["--skip-systemctl-redirect", versions[0]!, "main", "start"],
    }).output();
  }
  for (let i = 0; i < 50 && !(await open(6379) && await open(5432)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!await open(6379) || !await open(5432)) {
    throw new Error("the benchmarks need Redis on 127.0.0.1:6379 and Postgres on 127.0.0.1:5432");
  }
}
