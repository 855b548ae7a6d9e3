"""A local HTTP file server for download tests (never the network): serves `files` by path (key '*': any path),
honours Range requests, records each request as (path, Range header), and can drop the connection once after a
given number of bytes of one path (a broken link), to test resuming."""
from __future__ import annotations

import contextlib
import http.server
import threading


class Files(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    cut: dict = {}  # path -> bytes sent before the connection drops (once)
    requests: list = []

    def do_GET(self):
        rng = self.headers.get("Range")
        Files.requests.append((self.path, rng))
        data = Files.files.get(self.path, Files.files.get("*"))
        if data is None:
            self.send_response(404)
            self.end_headers()
            return
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        body = data[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = Files.cut.pop(self.path, None)
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(2)  # drop the connection mid-body
            return
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@contextlib.contextmanager
def serve(files: dict):
    """The server's base URL while it serves `files`; Files.requests and Files.cut start empty."""
    Files.files, Files.cut, Files.requests = dict(files), {}, []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
