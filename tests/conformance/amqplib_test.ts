import { amqplibCapabilities, AmqplibTransport } from "../../transports/amqplib/mod.ts";
import { conformanceSuite } from "../../testing/conformance.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { rabbitmqInspector } from "../_support/inspect.ts";
import { skipReporter } from "../_support/skips.ts";

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "amqplib",
  url: "amqplib://guest:guest@127.0.0.1:5672//",
  capabilities: amqplibCapabilities,
  // The transport object is passed so the suite runs whether or not the scheme is registered.
  options: { transport: AmqplibTransport },
  inspect: rabbitmqInspector("amqp://guest:guest@127.0.0.1:5672/"),
  skip: await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672),
});
