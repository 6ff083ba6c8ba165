/**
 * Kombu's quick overview in wakame: a direct exchange "media", a queue "video" bound to it,
 * one message published and consumed.
 *
 * Run: `deno task demo` (memory://, no broker needed) or
 *      `deno run -A examples/hello.ts amqp://guest:guest@localhost//`.
 */
import { Connection, Exchange, Queue } from "../mod.ts";

const args: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const url = args[0] ?? "memory://";

const media = new Exchange("media", { type: "direct" });
const video = new Queue("video", { exchange: media, routingKey: "video" });

await using conn = new Connection(url);
await conn.connect();
console.log(`Connected to ${conn.asUri()}`);

const producer = conn.producer({ exchange: media, serializer: "json" });
await producer.publish(
  { name: "/tmp/lolcat1.avi", size: 1301013 },
  { routingKey: "video", declare: [video] },
);
console.log('Published {"name": "/tmp/lolcat1.avi", "size": 1301013} to media/video');

let received = 0;
await using consumer = conn.consumer(video, {
  accept: ["json"],
  callbacks: [async (body, message) => {
    received++;
    console.log("Received:", JSON.stringify(body), "routing key:", message.deliveryInfo.routingKey);
    await message.ack();
  }],
});
await consumer.consume();
await conn.drainEvents({ timeout: 5000 });
console.log(
  received === 1 ? "Done: one message published, consumed and acknowledged." : "No message?",
);
