/**
 * What `wakame inspect` reads from RabbitMQ's management plugin (HTTP API, port 15672 by
 * default) with the URL's credentials: every queue of the virtual host with its depth,
 * unacknowledged count and consumers, the exchanges and the bindings.
 *
 * @module
 */

import { resolveParams } from "../src/connection/params.ts";
import type { InspectReport } from "./inspect_report.ts";

interface ManagementQueue {
  name: string;
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
}

/**
 * Reads the queues, exchanges and bindings of the URL's virtual host from the management API.
 *
 * @param url the AMQP URL
 * @param base the management API's base URL (default `http://<host>:15672`)
 * @returns the report, or a reason why the API could not be used
 */
export async function inspectManagement(
  url: string,
  base: string | undefined,
): Promise<InspectReport | string> {
  const { params } = await resolveParams(url, {}, new AbortController().signal);
  const root = (base ?? `http://${params.hostname || "127.0.0.1"}:15672`).replace(/\/$/, "");
  const vhost = encodeURIComponent(params.virtualHost || "/");
  const auth = btoa(`${params.userid ?? "guest"}:${params.password ?? "guest"}`);
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${root}/api/${path}/${vhost}`, {
      headers: { authorization: `Basic ${auth}` },
      signal: AbortSignal.timeout(3000),
    });
    if (!response.ok) {
      await response.body?.cancel();
      const refused = response.status === 401 ? ": the URL's user and password were refused" : "";
      throw new Error(`HTTP ${response.status} from ${root}/api/${path}${refused}`);
    }
    return await response.json() as T;
  };
  try {
    const queues = await get<ManagementQueue[]>("queues");
    const exchanges = await get<{ name: string; type: string }[]>("exchanges");
    const bindings = await get<
      { source: string; destination: string; destination_type: string; routing_key: string }[]
    >("bindings");
    return {
      queues: queues.map((q) => ({
        name: q.name,
        depth: q.messages_ready ?? 0,
        unacked: q.messages_unacknowledged ?? 0,
        consumers: q.consumers ?? 0,
      })),
      exchanges: exchanges.filter((e) => e.name !== "").map((e) => ({
        name: e.name,
        type: e.type,
      })),
      bindings: bindings.filter((b) => b.source !== "" && b.destination_type === "queue").map((
        b,
      ) => ({ exchange: b.source, routingKey: b.routing_key, queue: b.destination })),
      notes: [],
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `management API at ${root} not usable (${reason})`;
  }
}
