// A loopback TCP proxy in front of the shared API server: `pause()` stops forwarding in both directions (new
// connections are accepted and held, bytes are held), which is what a hung API server looks like to a client;
// `resume()` forwards what was held. The harness's kube-apiserver is shared by every test file, so it is never
// stopped itself.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  /** `127.0.0.1:<port>` */
  address: string;
  pause(): void;
  /**
   * Hangs once a client sends application data: the TLS handshake completes (TLS 1.3's client Finished is the
   * first application-data record), then nothing more is forwarded, as from a server that stopped mid-request.
   */
  hangOnNextRequest(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(upstream: { host: string; port: number }): Promise<TcpProxy> {
  let paused = false;
  let hangOnData = false;
  const waiting: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket, fromClient: boolean) => {
    from.on("data", (chunk: Buffer) => {
      if (fromClient && hangOnData && hasApplicationData(chunk)) paused = true;
      if (!paused) return void to.write(chunk);
      waiting.push(() => to.write(chunk));
    });
    from.on("end", () => to.end());
    from.on("error", () => to.destroy());
    from.on("close", () => to.destroy());
  };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    const open = () => {
      if (client.destroyed) return;
      const up = connect(upstream.port, upstream.host);
      sockets.add(up);
      up.on("close", () => sockets.delete(up));
      forward(client, up, true);
      forward(up, client, false);
    };
    // A connection made while paused reaches the API server only when resumed (a SYN the server never answers
    // would look the same to the client: no TLS handshake).
    if (paused) waiting.push(open);
    else open();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    pause: () => {
      paused = true;
    },
    hangOnNextRequest: () => {
      hangOnData = true;
    },
    resume: () => {
      paused = false;
      hangOnData = false;
      for (const f of waiting.splice(0)) f();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether a chunk of a TLS stream holds an application-data record (type 0x17), walking its record headers. */
function hasApplicationData(chunk: Buffer): boolean {
  for (let offset = 0; offset + 5 <= chunk.length; offset += 5 + chunk.readUInt16BE(offset + 3)) {
    if (chunk[offset] === 0x17) return true;
  }
  return false;
}
