/**
 * A lean HTTP/1.1 keep-alive client for the open-loop benchmark: a pool of raw TCP connections,
 * one request at a time on each, requests written as bytes and answers parsed from them. With
 * `fetch` the load generator spent ~200 µs of CPU a request on the same two cores as the system
 * it measures (and opened new connections under bursts); this costs a few µs.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface HttpAnswer {
  status: number;
  body: string;
}

class Connection {
  #buffer: Uint8Array = new Uint8Array(0);
  readonly #chunk = new Uint8Array(64 * 1024);
  constructor(readonly conn: Deno.TcpConn) {}

  async request(head: string, body: string): Promise<HttpAnswer> {
    const bytes = encoder.encode(body);
    await this.conn.write(
      encoder.encode(`${head}content-length: ${bytes.length}\r\n\r\n${body}`),
    );
    for (;;) {
      const answer = this.#parse();
      if (answer !== undefined) return answer;
      const n = await this.conn.read(this.#chunk);
      if (n === null) throw new Error("the server closed the connection");
      const joined = new Uint8Array(this.#buffer.length + n);
      joined.set(this.#buffer, 0);
      joined.set(this.#chunk.subarray(0, n), this.#buffer.length);
      this.#buffer = joined;
    }
  }

  /** One whole answer from the front of the buffer (content-length bodies), or undefined. */
  #parse(): HttpAnswer | undefined {
    const buffer = this.#buffer;
    let end = -1;
    for (let i = 0; i + 3 < buffer.length; i++) {
      if (
        buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10
      ) {
        end = i;
        break;
      }
    }
    if (end < 0) return undefined;
    const head = decoder.decode(buffer.subarray(0, end));
    const status = Number(head.slice(9, 12));
    const match = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (match === null) throw new Error(`an answer without content-length: ${head.slice(0, 80)}`);
    const length = Number(match[1]);
    if (buffer.length < end + 4 + length) return undefined;
    const body = decoder.decode(buffer.subarray(end + 4, end + 4 + length));
    this.#buffer = buffer.slice(end + 4 + length);
    return { status, body };
  }
}

/** Up to `maxConnections` keep-alive connections; a request waits for a free one. */
export class HttpPool {
  readonly #idle: Connection[] = [];
  readonly #waiting: Array<(connection: Connection) => void> = [];
  #open = 0;

  constructor(readonly port: number, readonly maxConnections = 256) {}

  /** POSTs a JSON body; `headers` are extra header lines, each ending in \r\n. */
  post(path: string, headers: string, body: string): Promise<HttpAnswer> {
    return this.request("POST", path, `content-type: application/json\r\n${headers}`, body);
  }

  async request(method: string, path: string, headers = "", body = ""): Promise<HttpAnswer> {
    const connection = await this.#acquire();
    try {
      const answer = await connection.request(
        `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${this.port}\r\n${headers}`,
        body,
      );
      this.#release(connection);
      return answer;
    } catch (error) {
      connection.conn.close();
      this.#open--;
      throw error;
    }
  }

  close(): void {
    for (const connection of this.#idle) connection.conn.close();
    this.#idle.length = 0;
  }

  async #acquire(): Promise<Connection> {
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    if (this.#open < this.maxConnections) {
      this.#open++;
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        conn.setNoDelay(true);
        return new Connection(conn);
      } catch (error) {
        this.#open--;
        throw error;
      }
    }
    return await new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(connection: Connection): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(connection);
    else this.#idle.push(connection);
  }
}
