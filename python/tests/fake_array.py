"""A small NAS REST API on 127.0.0.1 for the share manager suite: a Python
cut of the one example-drivers/fake-nas serves, with volumes named by ids of
the array's own.

Run as a process of its own (Manila's test base makes threads and sockets
green, and a green server would never run while the driver waits on it): it
prints its port, then serves until stopped, each request in a thread of its
own. ``GET /state`` answers the volumes and how many API requests came, for
the tests; ``PUT /control/delay`` with ``{"seconds": S}`` makes the next
volume create take S seconds (a slow array). Neither is counted.
"""

import http.server
import json
import sys
import threading
import time

volumes = {}
requests = 0
delays = []
lock = threading.Lock()


class Api(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=None, counted=True):
        global requests
        requests += counted
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("content-type", "application/json")
        if status != 204:
            self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def request_body(self):
        return json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"null")

    def volume(self):
        parts = self.path.strip("/").split("/")
        return parts[2] if parts[:2] == ["api", "volumes"] and len(parts) > 2 else None

    def do_PUT(self):
        body = self.request_body()
        if self.path == "/control/delay":
            delays.append(float(body["seconds"]))
            return self.answer(204, counted=False)
        self.answer(404, {"error": "no route"})

    def do_POST(self):
        body = self.request_body()
        if self.path != "/api/volumes":
            return self.answer(404, {"error": "no route"})
        with lock:
            delay = delays.pop(0) if delays else 0
        time.sleep(delay)
        with lock:
            vid = "vol-%d" % (len(volumes) + 1)
            volumes[vid] = {"id": vid, "name": body["name"], "size_gib": body["size_gib"]}
        self.answer(201, volumes[vid])

    def do_GET(self):
        if self.path == "/state":
            return self.answer(200, {"volumes": volumes, "requests": requests}, counted=False)
        if self.path == "/api/capacity":
            used = sum(v["size_gib"] for v in volumes.values())
            return self.answer(200, {"total_gib": 100, "free_gib": 100 - used})
        vid = self.volume()
        if vid in volumes:
            return self.answer(200, volumes[vid])
        self.answer(404, {"error": "no such volume"})

    def do_DELETE(self):
        if volumes.pop(self.volume(), None) is None:
            return self.answer(404, {"error": "no such volume"})
        self.answer(204)


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()
