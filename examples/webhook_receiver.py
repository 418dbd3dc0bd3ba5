#!/usr/bin/env python3
"""A minimal caja webhook receiver that verifies every notification's signature.

    WEBHOOK_SECRET=<printed by `caja account set --notification-url …`> python3 webhook_receiver.py 9000

x-signature is "ts=<unix seconds>,v1=<hex HMAC-SHA256(secret, manifest)>" with
manifest = "id:<data.id>;request-id:<x-request-id>;ts:<ts>;", where data.id is the
query parameter caja appends to your URL. A ts more than 5 minutes from now is
refused (a replayed old delivery). Answer 2xx quickly; deduplicate by the payload's
"id" (delivery is at least once).
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

SECRET = os.environ["WEBHOOK_SECRET"].encode()
seen = set()


def verified(headers, data_id):
    parts = dict(p.split("=", 1) for p in headers.get("x-signature", "").split(",") if "=" in p)
    manifest = f"id:{data_id};request-id:{headers.get('x-request-id', '')};ts:{parts.get('ts', '')};"
    expected = hmac.new(SECRET, manifest.encode(), hashlib.sha256).hexdigest()
    fresh = parts.get("ts", "").isdigit() and abs(time.time() - int(parts["ts"])) <= 300
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        data_id = parse_qs(urlparse(self.path).query).get("data.id", [""])[0]
        if not verified(self.headers, data_id):
            self.send_response(401)
            self.end_headers()
            print("REJECTED: bad signature", body.get("id"), flush=True)
            return
        self.send_response(200)
        self.end_headers()
        if body["id"] not in seen:  # at least once: deduplicate by notification id
            seen.add(body["id"])
            print("verified", body["action"], body["data"]["id"], flush=True)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1] if len(sys.argv) > 1 else 9000)), Receiver).serve_forever()
