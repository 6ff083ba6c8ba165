/**
 * A Cloudflare Worker that exercises the runtime seam inside workerd (bundled by
 * workerd_test.ts). `GET /?port=N[&tls=JSON]` connects to 127.0.0.1:N, sends bytes, reads the
 * echo, and answers with JSON describing what happened.
 */
import { connectSocket, detectRuntime } from "../../../src/runtime/mod.ts";
import type { TlsOptions } from "../../../src/transport.ts";

async function echo(port: number, tls: boolean | TlsOptions | undefined): Promise<unknown> {
  const socket = await connectSocket({ hostname: "127.0.0.1", port, timeout: 2000, tls });
  const payload = new Uint8Array(256 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  const writer = socket.writable.getWriter();
  const writing = writer.write(payload);
  const reader = socket.readable.getReader();
  let received = 0;
  let same = true;
  while (received < payload.length) {
    const { done, value } = await reader.read();
    if (done) break;
    for (let i = 0; i < value.length; i++) {
      if (value[i] !== payload[received + i]) same = false;
    }
    received += value.length;
  }
  await writing;
  await socket.close();
  return {
    runtime: detectRuntime(),
    adapter: socket.constructor.name,
    received,
    same,
  };
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const port = Number(url.searchParams.get("port"));
    const tlsParam = url.searchParams.get("tls");
    try {
      const tls = tlsParam === null ? undefined : JSON.parse(tlsParam);
      return Response.json(await echo(port, tls));
    } catch (error) {
      const e = error as Error;
      return Response.json({ runtime: detectRuntime(), error: e.name, message: e.message });
    }
  },
};
