/**
 * Stream helpers shared by the socket adapters.
 *
 * @module
 */

/**
 * Re-exposes a runtime's readable so that a local `close()` ends it instead of erroring it.
 *
 * Deno errors a pending read with `Interrupted` when the connection is closed locally; protocol
 * code should see the end of the stream there, as it does on the other runtimes. The wrapper
 * reads only when its consumer pulls (high water mark 0), so backpressure is unchanged.
 *
 * @param source the runtime's readable
 * @param closedLocally tells whether the socket was closed by this side
 * @returns a readable that ends on a local close and errors on real failures
 */
export function endOnLocalClose(
  source: ReadableStream<Uint8Array>,
  closedLocally: () => boolean,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (error) {
          if (closedLocally()) controller.close();
          else controller.error(error);
        }
      },
      async cancel(reason) {
        try {
          await reader.cancel(reason);
        } catch {
          // Already closed: nothing left to cancel.
        }
      },
    },
    { highWaterMark: 0 },
  );
}
