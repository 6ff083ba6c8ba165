/**
 * Class and method ids of AMQP 0-9-1, named, for the hand-written hot paths (publish, deliver,
 * ack) and the dispatch switches. `methods.ts` describes the same methods as data; the tests
 * check both agree.
 *
 * @module
 */

/** Class ids. */
export const CLASS = {
  CONNECTION: 10,
  CHANNEL: 20,
  EXCHANGE: 40,
  QUEUE: 50,
  BASIC: 60,
  CONFIRM: 85,
  TX: 90,
} as const;

/** Method ids of class `channel` (20). */
export const CHANNEL = {
  OPEN: 10,
  OPEN_OK: 11,
  FLOW: 20,
  FLOW_OK: 21,
  CLOSE: 40,
  CLOSE_OK: 41,
} as const;

/** Method ids of class `basic` (60). */
export const BASIC = {
  QOS: 10,
  QOS_OK: 11,
  CONSUME: 20,
  CONSUME_OK: 21,
  CANCEL: 30,
  CANCEL_OK: 31,
  PUBLISH: 40,
  RETURN: 50,
  DELIVER: 60,
  GET: 70,
  GET_OK: 71,
  GET_EMPTY: 72,
  ACK: 80,
  REJECT: 90,
  RECOVER_ASYNC: 100,
  RECOVER: 110,
  RECOVER_OK: 111,
  NACK: 120,
} as const;
