// IP addresses as numbers, CIDR ranges, and the ranges repository content must never reach by default:
// link-local networks, where every cloud serves its instance metadata (credentials included).
import { isIP } from "node:net";

export interface IpAddress {
  family: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint;
  /** Canonical text (IPv4-mapped IPv6 is reported as IPv4). */
  text: string;
}

export interface CidrRange {
  family: 4 | 6;
  base: bigint;
  prefix: number;
  text: string;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  let rest = text.replace(/%.*$/, "");
  // A trailing dotted quad (`::ffff:1.2.3.4`) is two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(rest);
  if (dotted) {
    const v4 = parseIpv4(dotted[2]!);
    if (v4 === undefined) return undefined;
    rest = `${dotted[1]}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = rest.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(`0x${group}`);
  }
  return value;
}

function ipv4Text(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
}

/** Parses an IPv4 or IPv6 literal (brackets allowed); undefined when it is not one. */
export function parseIp(input: string): IpAddress | undefined {
  const text = input.startsWith("[") && input.endsWith("]") ? input.slice(1, -1) : input;
  const family = isIP(text.replace(/%.*$/, ""));
  if (family === 4) {
    const value = parseIpv4(text);
    return value === undefined ? undefined : { family: 4, value, text: ipv4Text(value) };
  }
  if (family !== 6) return undefined;
  const value = parseIpv6(text);
  if (value === undefined) return undefined;
  // ::ffff:a.b.c.d reaches the IPv4 host a.b.c.d: judge it as that.
  if (value >> 32n === 0xffffn)
    return { family: 4, value: value & 0xffffffffn, text: ipv4Text(value & 0xffffffffn) };
  return { family: 6, value, text: text.replace(/%.*$/, "").toLowerCase() };
}

/** Parses `10.0.0.0/8`, `fd00::/8` or a single address (a /32 or /128); undefined when it is neither. */
export function parseCidr(input: string): CidrRange | undefined {
  const [address, prefixText, extra] = input.trim().split("/");
  if (extra !== undefined || address === undefined) return undefined;
  const ip = parseIp(address);
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  const mappedV6 = ip.family === 4 && isIP(address.replace(/^\[|\]$/g, "")) === 6;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText) - (mappedV6 ? 96 : 0);
    if (prefix < 0 || prefix > bits) return undefined;
  }
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  return { family: ip.family, base: ip.value & mask, prefix, text: input.trim() };
}

export function inCidr(ip: IpAddress, range: CidrRange): boolean {
  if (ip.family !== range.family) return false;
  const bits = ip.family === 4 ? 32 : 128;
  const shift = BigInt(bits - range.prefix);
  return ip.value >> shift === range.base >> shift;
}

const linkLocalRanges = ["169.254.0.0/16", "fe80::/10"].map((c) => parseCidr(c) as CidrRange);
/** Instance metadata services outside link-local ranges (AWS IPv6, Alibaba Cloud). */
const metadataAddresses = ["fd00:ec2::254", "100.100.100.200"].map((c) => parseCidr(c) as CidrRange);
/** NAT64 (64:ff9b::/96) carries an IPv4 address in its low 32 bits; judge the embedded address too. */
const nat64 = parseCidr("64:ff9b::/96") as CidrRange;

/** Why an address is link-local or a metadata address, or undefined when it is neither. */
export function linkLocalReason(ip: IpAddress): string | undefined {
  if (ip.family === 6 && inCidr(ip, nat64)) {
    const embedded = parseIp(ipv4Text(ip.value & 0xffffffffn));
    if (embedded) return linkLocalReason(embedded);
  }
  if (metadataAddresses.some((range) => inCidr(ip, range))) return "a cloud metadata address";
  if (linkLocalRanges.some((range) => inCidr(ip, range))) return "a link-local (cloud metadata) address";
  return undefined;
}
