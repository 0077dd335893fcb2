// The one outbound policy for requests that repository content causes (registries, Helm repositories, OCI
// sources, notifications): which hosts and addresses may be reached. The operator's allow and deny lists name
// hosts (`example.com`, `*.example.com`) and networks (`10.0.0.0/8`); link-local and cloud metadata addresses
// are refused unless the operator says `allowLinkLocal`. Loopback stays reachable unless denied: on-premises
// registries and tests live there.
import { lookup as dnsLookup } from "node:dns/promises";
import { type CidrRange, type IpAddress, inCidr, linkLocalReason, parseCidr, parseIp } from "./address.js";
import { OutboundPolicyError } from "./errors.js";

/** The operator's `security.outbound` (src/config/operator-config.ts), structurally. */
export interface OutboundPolicyRules {
  allow?: readonly string[];
  deny?: readonly string[];
  allowLinkLocal?: boolean;
}

/** Resolves a host name to every address it has; `dns.lookup(host, { all: true })` by default. */
export type HostResolver = (host: string) => Promise<{ address: string; family: number }[]>;

/** A host that passed the policy, with the addresses a connection may use (pinned: no second lookup). */
export interface CheckedHost {
  host: string;
  addresses: IpAddress[];
}

interface HostRule {
  /** Lower-case name without a trailing dot; for `*.example.com` the suffix `example.com`. */
  name: string;
  wildcard: boolean;
  text: string;
}

interface CompiledList {
  hosts: HostRule[];
  networks: CidrRange[];
}

export interface OutboundPolicy {
  /** Resolves `host` and checks the name and every address; throws OutboundPolicyError when refused. */
  check(host: string): Promise<CheckedHost>;
  /** The same judgement on addresses already known (pure; tests and callers with their own resolution). */
  checkAddresses(host: string, addresses: readonly string[]): CheckedHost;
}

/** Normalises a URL host name: brackets off IPv6, lower case, no trailing dot. */
export function normaliseHost(host: string): string {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return bare.toLowerCase().replace(/\.$/, "");
}

const hostName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

function hostRule(entry: string): HostRule | undefined {
  const text = entry.trim();
  const wildcard = text.startsWith("*.");
  const name = normaliseHost(wildcard ? text.slice(2) : text);
  return hostName.test(name) ? { name, wildcard, text } : undefined;
}

/** Why an allow/deny entry is neither a host nor a CIDR, or undefined when it is fine (for config schemas). */
export function outboundListEntryError(entry: string): string | undefined {
  if (parseCidr(entry) || hostRule(entry)) return undefined;
  return `${JSON.stringify(entry)} is neither a host (example.com, *.example.com) nor a CIDR (10.0.0.0/8)`;
}

function compileList(entries: readonly string[], field: string): CompiledList {
  const list: CompiledList = { hosts: [], networks: [] };
  for (const entry of entries) {
    const network = parseCidr(entry);
    const host = network ? undefined : hostRule(entry);
    if (network) list.networks.push(network);
    else if (host) list.hosts.push(host);
    else throw new Error(`security.outbound.${field}: ${outboundListEntryError(entry)}`);
  }
  return list;
}

function hostMatches(rule: HostRule, host: string): boolean {
  return rule.wildcard ? host.endsWith(`.${rule.name}`) : host === rule.name;
}

function refused(reason: string): OutboundPolicyError {
  return new OutboundPolicyError(`refused by the outbound policy: ${reason}`);
}

const systemResolver: HostResolver = (host) => dnsLookup(host, { all: true, verbatim: true });

export function createOutboundPolicy(
  rules: OutboundPolicyRules = {},
  resolver: HostResolver = systemResolver,
): OutboundPolicy {
  const allow = compileList(rules.allow ?? [], "allow");
  const deny = compileList(rules.deny ?? [], "deny");
  const allowLinkLocal = rules.allowLinkLocal ?? false;
  const restricted = allow.hosts.length + allow.networks.length > 0;

  function checkAddresses(rawHost: string, addressTexts: readonly string[]): CheckedHost {
    const host = normaliseHost(rawHost);
    const literal = parseIp(host);
    const named = literal ? "" : `${host} resolves to `;
    if (addressTexts.length === 0) throw refused(`${host} has no address`);
    const addresses = addressTexts.map((text) => {
      const ip = parseIp(text);
      if (!ip) throw refused(`${host} resolved to "${text}", which is not an IP address`);
      return ip;
    });
    const deniedHost = literal ? undefined : deny.hosts.find((rule) => hostMatches(rule, host));
    if (deniedHost) throw refused(`${host} is denied (security.outbound.deny: ${deniedHost.text})`);
    for (const ip of addresses) {
      const linkLocal = allowLinkLocal ? undefined : linkLocalReason(ip);
      if (linkLocal) throw refused(`${named}${ip.text}${named ? ", which" : ""} is ${linkLocal}`);
      const deniedNetwork = deny.networks.find((range) => inCidr(ip, range));
      if (deniedNetwork) {
        throw refused(
          `${named}${ip.text}${named ? ", which" : ""} is denied (security.outbound.deny: ${deniedNetwork.text})`,
        );
      }
    }
    if (restricted) {
      const allowedByName = !literal && allow.hosts.some((rule) => hostMatches(rule, host));
      const outside = addresses.find((ip) => !allow.networks.some((range) => inCidr(ip, range)));
      if (!allowedByName && outside) {
        throw refused(
          literal || addresses.length === 1
            ? `${named}${outside.text} is not in security.outbound.allow`
            : `${host} is not in security.outbound.allow (nor is its address ${outside.text})`,
        );
      }
    }
    return { host, addresses };
  }

  return {
    checkAddresses,
    async check(rawHost) {
      const host = normaliseHost(rawHost);
      if (parseIp(host)) return checkAddresses(host, [host]);
      // Judge the name before asking DNS, so a denied host is not even looked up.
      const deniedHost = deny.hosts.find((rule) => hostMatches(rule, host));
      if (deniedHost) throw refused(`${host} is denied (security.outbound.deny: ${deniedHost.text})`);
      let resolved: { address: string }[];
      try {
        resolved = await resolver(host);
      } catch (error) {
        const code = (error as { code?: string }).code;
        throw new OutboundPolicyError(`cannot resolve ${host}${code ? ` (${code})` : ""}`, { cause: error });
      }
      return checkAddresses(
        host,
        resolved.map((r) => r.address),
      );
    },
  };
}
