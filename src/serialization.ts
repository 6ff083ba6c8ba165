/**
 * Serializers and the registry that picks one by name or content type (Kombu's
 * `kombu.serialization`), gathered from `src/serializers/`: the registry (`registry.ts`), JSON
 * with Kombu's tagged types (`tagged_json.ts`), charsets (`charset.ts`), `text` and `raw`
 * (`text.ts`), and one module per codec whose package loads on first use (`msgpack.ts`,
 * `yaml.ts`).
 *
 * Built in: `json` (`application/json`), `text` (`text/plain`), `raw` (`application/data`),
 * `msgpack` (`application/x-msgpack`) and `yaml` (`application/x-yaml`). Pickle
 * (`application/x-python-serialize`) is never decoded, whatever is registered or accepted.
 *
 * @module
 */

export type { Encoded, Serializer } from "./serializers/types.ts";
export { decodeCharset } from "./serializers/charset.ts";
export {
  createJsonSerializer,
  decodeTaggedValue,
  jsonSerializer,
  type JsonSerializerOptions,
  jsonTaggedSerializer,
  parseIsoDateTime,
  parseKombuJson,
  tagBytes,
} from "./serializers/tagged_json.ts";
export { rawSerializer, textSerializer } from "./serializers/text.ts";
export { registerType, type TaggedClass, unregisterType } from "./serializers/json_types.ts";
export { MicrosecondDate } from "./serializers/microsecond_date.ts";
export { msgpackSerializer } from "./serializers/msgpack.ts";
export { yamlSerializer } from "./serializers/yaml.ts";
export {
  DEFAULT_ACCEPT,
  PICKLE_CONTENT_TYPE,
  type RegisterOptions,
  SerializerRegistry,
  serializers,
  TRUSTED_CONTENT,
} from "./serializers/registry.ts";
