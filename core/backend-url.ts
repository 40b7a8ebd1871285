import { isIP } from 'node:net';
import type { BackendTarget, DnsServer } from './model.js';

// Backend URLs: http(s)://host:port for the HTTP proxy, dns://[server]/host:port (RFC 4501) for httpgrpc.
// Each failure message names the fix; the caller prefixes the field and position.

export type UrlResult = { target: BackendTarget } | { problem: string };

const DEFAULT_DNS_PORT = 53;

export function parseBackendUrl(raw: string): UrlResult {
  const url = raw.trim();
  const colon = url.indexOf(':');
  const scheme = colon > 0 ? url.slice(0, colon).toLowerCase() : '';
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme) || !url.slice(colon).startsWith('://') && scheme !== 'dns') {
    const env = raw.includes('${') ? '; ${VAR} is expanded only with -config.expand-env' : '';
    return { problem: `${q(raw)} is not a URL; use http://host:port, https://host:port or dns:///host:port${env}` };
  }
  if (scheme === 'dns') return parseDns(raw, url.slice(colon + 1));
  if (scheme !== 'http' && scheme !== 'https') {
    return { problem: `scheme ${q(scheme)} in ${q(raw)} is not supported; use http://, https:// or dns:/// (httpgrpc)` };
  }
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '';
  const hostPart = authority.slice(authority.lastIndexOf('@') + 1);
  const portText = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPart)?.[1];
  if (!hostPart.startsWith('[') && hostPart.indexOf(':') !== hostPart.lastIndexOf(':')) {
    return { problem: `${q(raw)}: an IPv6 address goes in brackets, e.g. ${scheme}://[::1]:8080` };
  }
  if (hostPart === '' || hostPart.startsWith(':')) return { problem: `${q(raw)} has no host; use ${scheme}://host:port` };
  if (portText !== undefined) {
    const p = checkPort(portText, raw);
    if (typeof p === 'string') return { problem: p };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { problem: `${q(raw)} is not a valid URL; use ${scheme}://host:port` };
  }
  if (u.hostname === '') return { problem: `${q(raw)} has no host; use ${scheme}://host:port` };
  if (u.search !== '' || u.hash !== '') {
    return { problem: `${q(raw)} has a query or fragment; a backend url is scheme://host:port[/path]` };
  }
  if (u.username !== '' || u.password !== '') {
    return { problem: `${q(raw)} has credentials in it; backends are reached without user info` };
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === '' ? (scheme === 'https' ? 443 : 80) : Number(u.port);
  const basePath = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return { target: { kind: 'http', scheme, host, port, basePath } };
}

function parseDns(raw: string, rest: string): UrlResult {
  // RFC 4501: dns:[//authority/]name. The authority is the DNS server to ask; empty means the system's.
  if (!rest.startsWith('//')) {
    return { problem: `${q(raw)} must start with dns:/// (three slashes), e.g. dns:///distributor:9095` };
  }
  const afterSlashes = rest.slice(2);
  const slash = afterSlashes.indexOf('/');
  if (slash < 0) {
    // dns://host:port: the name was put where the DNS server goes.
    return {
      problem:
        `${q(raw)} has two slashes, so ${q(afterSlashes)} would be read as the DNS server; ` +
        `use dns:///${afterSlashes} (RFC 4501: three slashes for the system resolver)`,
    };
  }
  const authority = afterSlashes.slice(0, slash);
  const name = afterSlashes.slice(slash + 1);
  let server: DnsServer | undefined;
  if (authority !== '') {
    const parsed = splitHostPort(authority);
    const host = parsed?.host ?? '';
    if (!parsed || isIP(host) === 0) {
      return {
        problem:
          `DNS server ${q(authority)} in ${q(raw)} must be an IP address with an optional port, ` +
          `e.g. dns://127.0.0.1:53/${name || 'distributor:9095'}`,
      };
    }
    let port = DEFAULT_DNS_PORT;
    if (parsed.port !== undefined) {
      const p = checkPort(parsed.port, raw);
      if (typeof p === 'string') return { problem: p };
      port = p;
    }
    server = { host, port };
  }
  if (name === '') return { problem: `${q(raw)} names no host; use dns:///host:port` };
  const hp = splitHostPort(name);
  if (!hp || hp.host === '' || /[/?#@\s]/.test(hp.host)) {
    return { problem: `${q(raw)}: ${q(name)} is not host:port; use dns:///host:port` };
  }
  if (hp.port === undefined) {
    // "dns:///::1:9095" reads as the IPv6 address ::1:9095 without a port.
    const example = !hp.host.includes(':')
      ? `dns:///${name}:9095`
      : `dns:///[${hp.host}]:9095${name.startsWith('[') ? '' : ' (an IPv6 address goes in brackets)'}`;
    return {
      problem: `${q(raw)} has no port; the gRPC port is required, e.g. ${example}`,
    };
  }
  const port = checkPort(hp.port, raw);
  if (typeof port === 'string') return { problem: port };
  if (isIP(hp.host) === 0 && !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(hp.host)) {
    return { problem: `${q(raw)}: ${q(hp.host)} is not a valid DNS name or IP address` };
  }
  return { target: { kind: 'dns', server, host: hp.host, port } };
}

function splitHostPort(s: string): { host: string; port: string | undefined } | undefined {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return undefined;
    const host = s.slice(1, end);
    const after = s.slice(end + 1);
    if (after === '') return { host, port: undefined };
    if (!after.startsWith(':')) return undefined;
    return { host, port: after.slice(1) };
  }
  const colons = s.split(':').length - 1;
  if (colons === 0) return { host: s, port: undefined };
  if (colons > 1) return isIP(s) === 6 ? { host: s, port: undefined } : undefined;
  const i = s.indexOf(':');
  return { host: s.slice(0, i), port: s.slice(i + 1) };
}

function checkPort(text: string, raw: string): number | string {
  if (!/^\d+$/.test(text)) return `port ${q(text)} in ${q(raw)} is not a number`;
  const port = Number(text);
  if (port < 1 || port > 65535) return `port ${port} in ${q(raw)} is out of range 1-65535`;
  return port;
}

const q = (s: string): string => JSON.stringify(s);
