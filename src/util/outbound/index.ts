// The outbound policy for every request repository content causes. Callers build one policy from the
// operator's `security.outbound` (createOutboundPolicy) and send requests with outboundFetch; nothing else
// in the bot should open a connection a repository chose.
export { type CidrRange, type IpAddress, linkLocalReason, parseCidr, parseIp } from "./address.js";
export { type OutboundFailure, OutboundPolicyError, OutboundRequestError } from "./errors.js";
export {
  defaultMaxRedirects,
  describeRequest,
  type OutboundRequestOptions,
  type OutboundResponse,
  outboundFetch,
  pinnedLookup,
} from "./fetch.js";
export {
  type CheckedHost,
  createOutboundPolicy,
  type HostResolver,
  normaliseHost,
  type OutboundPolicy,
  type OutboundPolicyRules,
  outboundListEntryError,
} from "./policy.js";
export { realmMayHaveCredentials } from "./token-realm.js";
