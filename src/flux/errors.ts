// An error about the repository's content, located as precisely as we can: file, object, field.
export interface ManifestLocation {
  /** Path relative to the repository root. */
  file?: string;
  /** `Kind/namespace/name` of the object in question. */
  object?: string;
  /** Dotted field path, e.g. `spec.postBuild.substitute`. */
  field?: string;
}

export class ManifestError extends Error {
  override name = "ManifestError";
  constructor(
    readonly location: ManifestLocation,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    const where = [location.file, location.object, location.field].filter(Boolean).join(": ");
    super(where ? `${where}: ${reason}` : reason, options);
  }
}
