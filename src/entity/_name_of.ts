/**
 * The name of an entity given as an object or by name.
 *
 * @param entity an exchange or queue, or its name
 * @returns the name
 */
export function nameOf(entity: { readonly name: string } | string): string {
  return typeof entity === "string" ? entity : entity.name;
}
