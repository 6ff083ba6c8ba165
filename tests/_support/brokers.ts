/**
 * Test gating for brokers. On a developer's machine a missing broker skips the tests that need
 * it, with the reason; in CI (`CI=true`) a missing broker fails them.
 */
import { Socket } from "node:net";

/** True when a TCP connection to host:port opens within the timeout. */
export function isListening(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/** True when running in CI, where a missing broker is a failure. */
export const inCi: boolean =
  (globalThis as { process?: { env: Record<string, string | undefined> } })
    .process?.env.CI === "true";

/**
 * Decides whether broker tests run. Resolves to `false` (run them) or a skip reason; in CI a
 * missing broker throws, so the suite fails instead of skipping in silence.
 */
export async function brokerSkipReason(
  name: string,
  host: string,
  port: number,
): Promise<string | false> {
  if (await isListening(host, port)) return false;
  const reason = `${name} is not listening on ${host}:${port}`;
  if (inCi) throw new Error(`${reason}; CI needs it (start the service, see README)`);
  return `${reason}: start it to run these tests`;
}
