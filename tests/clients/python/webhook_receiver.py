"""A webhook endpoint for the tests, checking deliveries with code nobody here
wrote: the Standard Webhooks project's own Python library (PyPI
`standardwebhooks`).

    webhook_receiver.py --record FILE (--secret whsec_… ... | --secrets-file FILE)
                        [--port 0] [--fail-for SECONDS] [--status-while-failing 500]
                        [--delay SECONDS]

Listens on 127.0.0.1 (port 0: a free one) and prints "listening PORT" once
ready. Every POST is checked against each secret separately; the secrets are
the --secret ones in order, then the lines of --secrets-file, which is read
again for every request so a test can add a rotated secret while it runs.
The answer: 400 if no secret verifies it (a forgery never looks like a
passing outage); else the --status-while-failing status during the first
--fail-for seconds; else 204. Each request is appended to --record as one
JSON line:

    {"webhook_id", "type", "hub_id", "timestamp", "event_timestamp",
     "verified", "verified_with", "signatures", "answered", "received_at"}

where `timestamp` is the webhook-timestamp header (unix seconds, when that
attempt was signed), `event_timestamp` the event's own time, `verified_with`
the indexes of the secrets that verified it, `signatures` how many `v1`
signatures the header carried (two during a rotation) and `received_at` unix
seconds. Runs until killed.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", required=True, help="JSON lines file, appended to")
    parser.add_argument("--secret", action="append", default=[], help="whsec_…; repeat")
    parser.add_argument("--secrets-file", help="one whsec_… a line, read for every request")
    parser.add_argument("--fail-for", type=float, default=0.0, help="seconds from the start")
    parser.add_argument("--status-while-failing", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to take over each answer")
    args = parser.parse_args()
    if not args.secret and not args.secrets_file:
        parser.error("give --secret or --secrets-file")
    return args


def secrets(args):
    found = list(args.secret)
    if args.secrets_file:
        try:
            with open(args.secrets_file, encoding="utf-8") as lines:
                found += [line.strip() for line in lines if line.strip()]
        except FileNotFoundError:
            pass  # not written yet
    return found


def verified_with(secrets_now, body, headers):
    """The indexes of the secrets the delivery verifies with."""
    indexes = []
    for index, secret in enumerate(secrets_now):
        try:
            Webhook(secret).verify(body, headers)
        except Exception:  # a forgery, a bad secret, a malformed header: all "no"
            continue
        indexes.append(index)
    return indexes


def make_handler(args, started, record_lock):
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.delay:
                time.sleep(args.delay)  # a slow receiver keeps deliveries in flight
            headers = {name.lower(): value for name, value in self.headers.items()}
            matched = verified_with(secrets(args), body, headers)
            if not matched:
                status = 400
            elif time.monotonic() - started < args.fail_for:
                status = args.status_while_failing
            else:
                status = 204
            try:
                event = json.loads(body)
            except ValueError:
                event = {}
            if not isinstance(event, dict):
                event = {}
            signature = headers.get("webhook-signature", "")
            timestamp = headers.get("webhook-timestamp")
            line = {
                "webhook_id": headers.get("webhook-id"),
                "type": event.get("type"),
                "hub_id": event.get("hub_id"),
                "timestamp": int(timestamp) if timestamp and timestamp.isdigit() else timestamp,
                "event_timestamp": event.get("timestamp"),
                "verified": bool(matched),
                "verified_with": matched,
                "signatures": sum(1 for s in signature.split(" ") if s.startswith("v1,")),
                "answered": status,
                "received_at": time.time(),
            }
            with record_lock, open(args.record, "a", encoding="utf-8") as record:
                record.write(json.dumps(line) + "\n")
                record.flush()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Receiver


def main():
    args = parse_args()
    started = time.monotonic()
    handler = make_handler(args, started, threading.Lock())
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
