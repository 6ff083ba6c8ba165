/**
 * Request/reply over a queue (Kombu's RPC tutorial, `examples/rpc-tut6`): a server computes
 * Fibonacci numbers for requests from the `rpc_queue` and replies to each request's `replyTo`
 * with its `correlationId`; the client waits on its own exclusive reply queue.
 *
 * Run:
 *   deno run -A examples/rpc.ts                      memory://, server and client in one process
 *   deno run -A examples/rpc.ts URL server           only the server, until Ctrl-C
 *   deno run -A examples/rpc.ts URL client [N]       only the client: asks for fib(N)
 *   deno run -A examples/rpc.ts URL                  both, in one process, on any broker
 *
 * On `memory://` the queues live inside one process, so the server and the client must run in
 * the same one: the example then always runs both.
 *
 * @module
 */
import { Connection, Queue } from "../mod.ts";
import { ignoreErrors, itermessages, sendReply } from "../src/common.ts";
import { uuid } from "../src/utils/uuid.ts";
import { Worker } from "../src/worker.ts";

const rpcQueue = new Queue("rpc_queue", { durable: false });

function fib(n: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/**
 * The server: a worker answering every request of `rpc_queue`.
 *
 * @param connection the broker connection (cloned for consuming and for replying)
 * @param signal stops the server
 * @param ready called once it consumes
 * @returns the worker's run() promise
 */
export function serve(
  connection: Connection,
  signal?: AbortSignal,
  ready?: () => void,
): Promise<void> {
  const worker: Worker = new Worker({
    connection,
    signal,
    handleSignals: signal === undefined,
    getConsumers: (make) => [make([rpcQueue], {
      accept: ["json"],
      prefetchCount: 1,
      callbacks: [async (body, message) => {
        const n = Number((body as { n: unknown }).n);
        console.log(` [.] fib(${n})`);
        await sendReply("", message, { result: fib(n) }, {
          producer: worker.producer(),
          retry: true,
        });
        await message.ack();
      }],
    })],
    onConsumeReady: () => {
      console.log(" [x] Awaiting RPC requests");
      ready?.();
    },
  });
  return worker.run();
}

/**
 * The client: sends one request and waits for its reply.
 *
 * @param connection the broker connection
 * @param n which Fibonacci number
 * @param timeout ms to wait for the reply
 * @returns fib(n), as computed by the server
 */
export async function call(connection: Connection, n: number, timeout = 10_000): Promise<number> {
  const correlationId = uuid();
  const replies = new Queue(`rpc-reply-${uuid()}`, { exclusive: true, autoDelete: true });
  const channel = await connection.defaultChannel();
  await replies.declareOn(channel);
  await connection.producer().publish({ n }, {
    routingKey: rpcQueue.name,
    declare: [rpcQueue],
    replyTo: replies.name,
    correlationId,
    retry: true,
  });
  let answer: number | undefined;
  try {
    for await (
      const [body, message] of itermessages(connection, replies, {
        limit: 10,
        timeout,
        noAck: true,
      })
    ) {
      if (message.correlationId !== correlationId) {
        console.log(" [!] stray reply ignored");
        continue;
      }
      answer = (body as { result: number }).result;
      break;
    }
  } finally {
    // Exclusive auto-delete queues go with their consumer on AMQP; delete it everywhere else.
    await ignoreErrors(() => channel.queueDelete(replies.name));
  }
  if (answer === undefined) throw new Error(`No reply for fib(${n}) within ${timeout} ms`);
  return answer;
}

const args: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const url = args[0] ?? "memory://";
const role = url.startsWith("memory:") ? "both" : args[1] ?? "both";

if (role === "server") {
  await using connection = new Connection(url);
  await serve(connection);
} else if (role === "client") {
  await using connection = new Connection(url);
  const n = Number(args[2] ?? 30);
  console.log(` [x] Requesting fib(${n})`);
  console.log(` [.] Got ${await call(connection, n)}`);
} else {
  // Server and client on separate connections, as if they were separate processes.
  await using serverConnection = new Connection(url);
  await using clientConnection = new Connection(url);
  const stop = new AbortController();
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  const server = serve(serverConnection, stop.signal, ready);
  await started;
  for (const n of [10, 30]) {
    console.log(` [x] Requesting fib(${n})`);
    console.log(` [.] Got ${await call(clientConnection, n)}`);
  }
  stop.abort();
  await server;
}
