#!/usr/bin/env python3
"""One server of a proxy herd in the CS 131 course design, as a baseline for `herdctl bench`.

    python3 asyncio_herd.py NAME --config herd.json

The configuration is JSON:

    {"log_dir": "/tmp/logs",
     "servers": {"Bailey": {"port": 12401, "neighbours": ["Bona", "Campbell"]}, ...}}

The design is the one the course asks for: `asyncio.start_server`, one process per server, a
dict from client ID to its newest report, and flooding by opening a fresh connection to each
neighbour for every message (`asyncio.open_connection`, write, drain, close). Every line in
and out is logged to `{log_dir}/{NAME}.log` through the `logging` module. WHATSAT is answered
from a deterministic made-up Places response (no network, no key).

Once listening, the server prints `NAME 127.0.0.1:PORT` on stdout. Standard library only.
"""

import argparse
import asyncio
import hashlib
import json
import logging
import re
import sys
import time

HOST = "127.0.0.1"
COORDS = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)$")
TIME = re.compile(r"^\d+(?:\.\d+)?$")
NOUNS = ["Cafe", "Bistro", "Library", "Park", "Bakery", "Museum", "Tavern", "Gym"]
STREETS = ["Westwood Blvd", "Gayley Ave", "Le Conte Ave", "Wilshire Blvd", "Sunset Blvd"]


def fake_places(lat, lng, radius_km):
    """A Nearby Search response of 20 made-up places: a pure function of the query."""
    seed = hashlib.sha256(f"{lat},{lng},{radius_km}".encode()).digest()
    results = []
    for i in range(20):
        a, b, c = seed[i % 32], seed[(i * 7 + 3) % 32], seed[(i * 13 + 5) % 32]
        spread = radius_km / 111.0 * 0.7
        results.append({
            "business_status": "OPERATIONAL",
            "geometry": {"location": {
                "lat": round(lat + (a / 255.0 - 0.5) * spread, 7),
                "lng": round(lng + (b / 255.0 - 0.5) * spread, 7),
            }},
            "name": f"{NOUNS[c % len(NOUNS)]} {i + 1}",
            "opening_hours": {"open_now": c % 2 == 0},
            "place_id": hashlib.sha1(seed + bytes([i])).hexdigest()[:27],
            "rating": round(3.0 + (a % 20) / 10.0, 1),
            "types": ["point_of_interest", "establishment"],
            "user_ratings_total": a * 3 + b,
            "vicinity": f"{100 + a * 10} {STREETS[b % len(STREETS)]}, Los Angeles",
        })
    return {"html_attributions": [], "results": results, "status": "OK"}


class Server:
    def __init__(self, name, config):
        servers = config["servers"]
        self.name = name
        self.port = servers[name]["port"]
        self.neighbours = {}
        for other, spec in servers.items():
            if other == name:
                continue
            linked = other in servers[name].get("neighbours", []) or name in spec.get(
                "neighbours", [])
            if linked:
                self.neighbours[other] = spec["port"]
        self.clients = {}  # client ID -> (client time as float, AT line)
        self.tasks = set()  # flood tasks in flight, kept so they are not collected
        self.log = logging.getLogger(name)

    async def handle(self, reader, writer):
        peer = writer.get_extra_info("peername")
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line.strip():
                    continue
                self.log.info("IN %s %s", peer, line)
                reply = await self.process(line)
                if reply:
                    writer.write(reply.encode())
                    await writer.drain()
                    self.log.info("OUT %s %s", peer, reply.rstrip("\n"))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as err:
            self.log.info("-- connection from %s failed: %s", peer, err)
        finally:
            writer.close()

    async def process(self, line):
        fields = line.split()
        verb = fields[0]
        if verb == "IAMAT" and len(fields) == 4:
            return await self.iamat(line, fields)
        if verb == "WHATSAT" and len(fields) == 4:
            return self.whatsat(line, fields)
        if verb == "AT" and len(fields) in (6, 7):
            self.report(fields)
            return None
        return f"? {line}\n"

    async def iamat(self, line, fields):
        _, client, coords, sent = fields
        if not COORDS.match(coords) or not TIME.match(sent):
            return f"? {line}\n"
        lat, lng = (float(x) for x in COORDS.match(coords).groups())
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            return f"? {line}\n"
        client_time = float(sent)
        at = f"AT {self.name} {time.time() - client_time:+.9f} {client} {coords} {sent}"
        known = self.clients.get(client)
        if known is None or client_time > known[0]:
            self.clients[client] = (client_time, at)
            # Flood first, then reply: the report is on its way to every neighbour before
            # the client hears back.
            await asyncio.gather(*self.flood(at, None))
        return at + "\n"

    def report(self, fields):
        client, sent = fields[3], fields[5]
        sender = fields[6] if len(fields) == 7 else None
        try:
            client_time = float(sent)
        except ValueError:
            return
        known = self.clients.get(client)
        if known is not None and client_time <= known[0]:
            return
        at = " ".join(fields[:6])
        self.clients[client] = (client_time, at)
        for send in self.flood(at, sender):
            task = asyncio.ensure_future(send)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def flood(self, at, sender):
        message = f"{at} {self.name}\n"
        return [self.send(other, port, message)
                for other, port in self.neighbours.items() if other != sender]

    async def send(self, other, port, message):
        try:
            _, writer = await asyncio.open_connection(HOST, port)
            writer.write(message.encode())
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            self.log.info("TO %s %s", other, message.rstrip("\n"))
        except OSError as err:
            self.log.info("-- dropped report for %s: %s", other, err)

    def whatsat(self, line, fields):
        _, client, radius, bound = fields
        try:
            radius_km, limit = float(radius), int(bound)
        except ValueError:
            return f"? {line}\n"
        known = self.clients.get(client)
        if known is None or not (0 < radius_km <= 50) or not (0 < limit <= 20):
            return f"? {line}\n"
        at = known[1]
        lat, lng = (float(x) for x in COORDS.match(at.split()[4]).groups())
        response = fake_places(lat, lng, radius_km)
        response["results"] = response["results"][:limit]
        text = json.dumps(response, indent=2)
        return f"{at}\n{text}\n\n"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--config", required=True)
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when standard input closes (the harness that started us is gone)")
    args = parser.parse_args()
    with open(args.config, encoding="utf-8") as file:
        config = json.load(file)
    if args.name not in config["servers"]:
        sys.exit(f"no server {args.name} in {args.config}")
    logging.basicConfig(
        filename=f"{config['log_dir']}/{args.name}.log",
        format="%(asctime)s %(message)s",
        level=logging.INFO,
    )
    server = Server(args.name, config)
    listener = await asyncio.start_server(server.handle, HOST, server.port, backlog=1024)
    print(f"{args.name} {HOST}:{server.port}", flush=True)
    async with listener:
        if args.exit_with_stdin:
            serving = asyncio.ensure_future(listener.serve_forever())
            await stdin_closed()
            serving.cancel()
        else:
            await listener.serve_forever()


async def stdin_closed():
    """Returns when standard input reaches its end."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
