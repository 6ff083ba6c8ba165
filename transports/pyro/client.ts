/**
 * A Pyro4 client over wakame's {@link Socket} seam: one connection to one Pyro object, the
 * handshake (`MSG_CONNECT` with `{'handshake': None}`, answered by `MSG_CONNECTOK`), and calls
 * (`MSG_INVOKE` with serpent's `(object, method, args, kwargs)`, answered by `MSG_RESULT`), one
 * at a time, as a `Pyro4.Proxy` makes them. {@link lookupPyroName} asks a name server
 * (`Pyro.NameServer`) where an object lives.
 *
 * @module
 */

import { OperationalError } from "../../src/errors.ts";
import type { Socket, SocketFactory } from "../../src/socket.ts";
import {
  decodePyroAnnotations,
  decodePyroHeader,
  encodePyroMessage,
  FLAGS_COMPRESSED,
  FLAGS_EXCEPTION,
  MSG_CONNECT,
  MSG_CONNECTFAIL,
  MSG_CONNECTOK,
  MSG_INVOKE,
  MSG_RESULT,
  PYRO_HEADER_SIZE,
  PyroProtocolError,
  SERPENT_SERIALIZER_ID,
} from "./protocol.ts";
import { PyTuple, serpentDumps, SerpentError, serpentLoads, type SerpentValue } from "./serpent.ts";

/** The name server's object id. */
export const PYRO_NAME_SERVER = "Pyro.NameServer";

/** The link to a Pyro daemon failed (refused, closed, timed out, garbled). */
export class PyroCommunicationError extends OperationalError {
  /**
   * Makes the error.
   *
   * @param message what failed
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions & { closedByPeer?: boolean }) {
    super(message, options);
    this.name = "PyroCommunicationError";
    this.closedByPeer = options?.closedByPeer ?? false;
  }
  /**
   * The connection closed or failed before an answer came (not a timeout, not garbled data):
   * the daemon went away, so whatever it took went with it.
   */
  readonly closedByPeer: boolean;
}

/** The remote method raised; `className` is Python's (`_queue.Empty`, `builtins.KeyError`). */
export class PyroRemoteError extends Error {
  /** The Python exception class, module-qualified. */
  readonly className: string;
  /** Its arguments. */
  readonly args: readonly SerpentValue[];
  /**
   * Makes the error of a remote exception.
   *
   * @param className the Python class
   * @param args the exception's arguments
   */
  constructor(className: string, args: readonly SerpentValue[]) {
    super(`Pyro remote ${className}: ${args.map((a) => String(a)).join(", ")}`);
    this.name = "PyroRemoteError";
    this.className = className;
    this.args = args;
  }
}

/** Where a Pyro object lives (a `PYRO:` URI). */
export interface PyroLocation {
  /** Object id (`kombu.broker`'s is `obj_<hex>`). */
  readonly objectId: string;
  /** Host of its daemon. */
  readonly host: string;
  /** Port of its daemon. */
  readonly port: number;
}

/** How a {@link PyroConnection} connects. */
export interface PyroConnectOptions {
  /** Opens the TCP socket. */
  readonly socketFactory: SocketFactory;
  /** Milliseconds to connect and for each call's answer (0: no limit). */
  readonly timeout: number;
}

/** One connection to one Pyro object; calls run one after the other. */
export class PyroConnection {
  readonly #socket: Socket;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #objectId: string;
  readonly #timeout: number;
  #buffer = new Uint8Array(0);
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #broken: Error | undefined;
  #calls = 0;

  private constructor(socket: Socket, objectId: string, timeout: number) {
    this.#socket = socket;
    this.#reader = socket.readable.getReader();
    this.#writer = socket.writable.getWriter();
    this.#objectId = objectId;
    this.#timeout = timeout;
  }

  /**
   * Connects to the object and makes Pyro's handshake.
   *
   * @param location where the object lives
   * @param options socket factory and timeout
   * @returns the connection
   * @throws {PyroCommunicationError} when the daemon cannot be reached or refuses
   */
  static async open(location: PyroLocation, options: PyroConnectOptions): Promise<PyroConnection> {
    let socket: Socket;
    try {
      socket = await options.socketFactory({
        hostname: location.host,
        port: location.port,
        timeout: options.timeout || undefined,
      });
    } catch (error) {
      throw new PyroCommunicationError(
        `Cannot connect to the Pyro daemon at ${location.host}:${location.port}`,
        { cause: error },
      );
    }
    const connection = new PyroConnection(socket, location.objectId, options.timeout);
    try {
      await connection.#exchange(MSG_CONNECT, { handshake: null }, [MSG_CONNECTOK]);
    } catch (error) {
      await connection.close();
      throw error;
    }
    return connection;
  }

  /** How many calls were made on this connection. */
  get calls(): number {
    return this.#calls;
  }

  /** True once the link failed or was closed; open a new connection. */
  get broken(): boolean {
    return this.#broken !== undefined;
  }

  /**
   * Calls a method of the object.
   *
   * @param method the method's name
   * @param args its positional arguments
   * @returns what it returned
   * @throws {PyroRemoteError} when it raised
   * @throws {PyroCommunicationError} when the link failed (the connection is then broken)
   */
  call(method: string, ...args: SerpentValue[]): Promise<SerpentValue> {
    this.#calls++;
    const payload = new PyTuple([this.#objectId, method, new PyTuple(args), {}]);
    const run = this.#queue.then(() => this.#exchange(MSG_INVOKE, payload, [MSG_RESULT]));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #exchange(type: number, payload: SerpentValue, wanted: number[]): Promise<SerpentValue> {
    if (this.#broken) {
      throw new PyroCommunicationError("Pyro connection closed", { cause: this.#broken });
    }
    const seq = this.#seq = (this.#seq + 1) & 0xffff;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const work = this.#roundTrip(type, seq, payload);
      const limit = this.#timeout > 0
        ? new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new PyroCommunicationError(`Pyro call unanswered after ${this.#timeout} ms`)),
            this.#timeout,
          );
        })
        : undefined;
      const { header, data } = await (limit ? Promise.race([work, limit]) : work);
      if (header.seq !== seq) throw new PyroProtocolError("Pyro answer out of sequence");
      if (header.flags & FLAGS_COMPRESSED) {
        throw new PyroProtocolError("compressed Pyro answer (set COMPRESSION off on the daemon)");
      }
      if (header.serializerId !== SERPENT_SERIALIZER_ID) {
        throw new PyroProtocolError(
          `Pyro answer in serializer ${header.serializerId}, not serpent`,
        );
      }
      const value = data.length ? serpentLoads(data) : null;
      if (header.type === MSG_CONNECTFAIL) {
        throw new PyroCommunicationError(`Pyro daemon refused the connection: ${String(value)}`);
      }
      if (!wanted.includes(header.type)) {
        throw new PyroProtocolError(`unexpected Pyro message type ${header.type}`);
      }
      if (header.flags & FLAGS_EXCEPTION) throw remoteError(value);
      return value;
    } catch (error) {
      if (error instanceof PyroRemoteError) throw error;
      this.#broken = error instanceof Error ? error : new Error(String(error));
      void this.#socket.close().catch(() => {});
      if (error instanceof PyroCommunicationError) throw error;
      const garbled = error instanceof PyroProtocolError || error instanceof SerpentError;
      throw new PyroCommunicationError("Pyro link failed", {
        cause: error,
        closedByPeer: !garbled,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async #roundTrip(type: number, seq: number, payload: SerpentValue) {
    await this.#writer.write(encodePyroMessage(type, 0, seq, serpentDumps(payload)));
    const header = decodePyroHeader(await this.#read(PYRO_HEADER_SIZE));
    if (header.annotationsSize) decodePyroAnnotations(await this.#read(header.annotationsSize));
    const data = await this.#read(header.dataSize);
    return { header, data };
  }

  async #read(size: number): Promise<Uint8Array> {
    while (this.#buffer.length < size) {
      const { value, done } = await this.#reader.read();
      if (done) {
        throw new PyroCommunicationError("Pyro daemon closed the connection", {
          closedByPeer: true,
        });
      }
      const joined = new Uint8Array(this.#buffer.length + value.length);
      joined.set(this.#buffer);
      joined.set(value, this.#buffer.length);
      this.#buffer = joined;
    }
    const out = this.#buffer.slice(0, size);
    this.#buffer = this.#buffer.slice(size);
    return out;
  }

  /** Closes the socket (idempotent). */
  async close(): Promise<void> {
    this.#broken ??= new Error("closed");
    this.#reader.releaseLock();
    try {
      await this.#socket.close();
    } catch {
      // already closed
    }
  }
}

function remoteError(value: SerpentValue): PyroRemoteError {
  if (value && typeof value === "object" && !Array.isArray(value) && "__class__" in value) {
    const args = Array.isArray(value.args) ? value.args : [];
    return new PyroRemoteError(String(value.__class__), args);
  }
  return new PyroRemoteError("unknown", [value]);
}

/**
 * Reads a `PYRO:` URI as serpent carries it (`{'__class__': 'Pyro4.core.URI', 'state':
 * ('PYRO', object, sockname, host, port)}`) or as text (`PYRO:obj@host:port`).
 *
 * @param value the decoded value
 * @returns the location
 * @throws {PyroProtocolError} for anything else, or a Unix-socket URI
 */
export function readPyroUri(value: SerpentValue): PyroLocation {
  if (typeof value === "string") {
    const match = /^PYRO:([^@]+)@(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
    if (match) {
      return { objectId: match[1], host: match[2].replace(/^\[|\]$/g, ""), port: Number(match[3]) };
    }
  } else if (value && typeof value === "object" && !Array.isArray(value) && "state" in value) {
    const state = value.state;
    if (Array.isArray(state) && state.length === 5 && state[0] === "PYRO" && state[2] === null) {
      const [, objectId, , host, port] = state;
      if (typeof objectId === "string" && typeof host === "string" && typeof port === "number") {
        return { objectId, host, port };
      }
    }
  }
  throw new PyroProtocolError(`not a TCP PYRO: URI: ${JSON.stringify(String(value))}`);
}

/**
 * Asks a Pyro name server where a name lives (`Pyro4.locateNS(host, port).lookup(name)`).
 *
 * @param nameServer host and port of the name server
 * @param name the registered name (`kombu.broker`)
 * @param options socket factory and timeout
 * @returns the location
 * @throws {PyroRemoteError} `Pyro4.errors.NamingError` when the name is unknown
 * @throws {PyroCommunicationError} when the name server cannot be reached
 */
export async function lookupPyroName(
  nameServer: { host: string; port: number },
  name: string,
  options: PyroConnectOptions,
): Promise<PyroLocation> {
  const ns = await PyroConnection.open({ ...nameServer, objectId: PYRO_NAME_SERVER }, options);
  try {
    return readPyroUri(await ns.call("lookup", name));
  } finally {
    await ns.close();
  }
}
