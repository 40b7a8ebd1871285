"""A gRPC C-core httpgrpc server (Debian python3-grpcio; run with /usr/bin/python3).

/httpgrpc.HTTP/Handle is a generic handler on raw bytes (no codegen): it answers 200 with
"c-core <url> <body bytes>", or echoes the body for /echo. --max-connection-age-ms sets
grpc.max_connection_age_ms (C-core's MaxConnectionAge). Prints "PORT <n>"; exits when stdin closes.
"""
import argparse
import sys
from concurrent import futures

import grpc


def varint(b, i):
    shift = v = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def enc_varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num, data):
    return enc_varint(num << 3 | 2) + enc_varint(len(data)) + data


def parse_request(b):
    """HTTPRequest: url (2) and body (4); other fields skipped."""
    url, body, i = b"", b"", 0
    while i < len(b):
        key, i = varint(b, i)
        if key & 7 == 0:
            _, i = varint(b, i)
            continue
        n, i = varint(b, i)
        data = b[i : i + n]
        i += n
        if key >> 3 == 2:
            url = data
        elif key >> 3 == 4:
            body = data
    return url, body


def handle(request, _context):
    url, body = parse_request(request)
    out = body if url.startswith(b"/echo") else b"c-core %s %d" % (url, len(body))
    header = field(1, b"X-Peer") + field(2, b"c-core")
    return enc_varint(1 << 3) + enc_varint(200) + field(2, header) + field(3, out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--max-connection-age-ms", type=int, default=0)
    p.add_argument("--max-connection-age-grace-ms", type=int, default=10000)
    a = p.parse_args()
    options = [("grpc.max_receive_message_length", 100 << 20), ("grpc.max_send_message_length", 100 << 20), ("grpc.so_reuseport", 0)]
    if a.max_connection_age_ms > 0:
        options += [("grpc.max_connection_age_ms", a.max_connection_age_ms), ("grpc.max_connection_age_grace_ms", a.max_connection_age_grace_ms)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=options)
    handlers = {"Handle": grpc.unary_unary_rpc_method_handler(handle)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("httpgrpc.HTTP", handlers),))
    port = server.add_insecure_port("%s:0" % a.host)
    server.start()
    print("PORT %d" % port, flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
