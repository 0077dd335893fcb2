// The error of a source fetch or lookup: its message names the source (`Kind/namespace/name`) and the reason.
export class SourceError extends Error {
  override name = "SourceError";
}
