/**
 * Publisher confirms of one channel: one promise per publish, settled by the broker's
 * basic.ack / basic.nack (single or `multiple`), and rejected all at once when the channel or
 * the connection ends, so a publish never hangs.
 *
 * Internal to the native AMQP transport.
 *
 * @module
 */

class PendingConfirm {
  resolve: () => void;
  reject: (error: Error) => void;
  constructor(resolve: () => void, reject: (error: Error) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** The confirm state of one channel in confirm mode. */
export class Confirms {
  #seq = 0;
  #lowest = 1;
  #pending = new Map<number, PendingConfirm>();

  /**
   * Registers the next publish (sequence numbers start at 1 after confirm.select).
   *
   * @returns a promise settled by its confirm
   */
  next(): Promise<void> {
    const seq = ++this.#seq;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(seq, new PendingConfirm(resolve, reject));
    });
  }

  /**
   * Settles confirms (basic.ack or basic.nack from the broker).
   *
   * @param tag the delivery tag the broker confirmed
   * @param multiple every unconfirmed tag up to this one too
   * @param error undefined for an ack, the rejection for a nack
   */
  settle(tag: number, multiple: boolean, error: Error | undefined): void {
    const pending = this.#pending;
    if (multiple) {
      for (let t = this.#lowest; t <= tag; t++) {
        const one = pending.get(t);
        if (one === undefined) continue;
        pending.delete(t);
        if (error) one.reject(error);
        else one.resolve();
      }
      if (tag >= this.#lowest) this.#lowest = tag + 1;
    } else {
      const one = pending.get(tag);
      if (one !== undefined) {
        pending.delete(tag);
        if (error) one.reject(error);
        else one.resolve();
      }
    }
    const seq = this.#seq;
    while (this.#lowest <= seq && !pending.has(this.#lowest)) this.#lowest++;
  }

  /**
   * Rejects every open confirm (the channel or the connection ended).
   *
   * @param error the reason
   */
  rejectAll(error: Error): void {
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const one of pending.values()) one.reject(error);
  }
}
