"""A local HTTP server for the download tests: the same code path as a real download, no network."""

from __future__ import annotations

import hashlib
import http.server
import threading


class LocalServer:
    """Serves ``files`` (name -> bytes) and records every requested path."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def checksum_of(algorithm: str, payload: bytes) -> str:
    """The registry's ``"<algorithm>:<hex>"`` form of ``payload``'s digest."""
    if algorithm == "md5":
        return "md5:" + hashlib.md5(payload).hexdigest()
    digest = hashlib.sha256(payload).hexdigest()
    return f"sha256-prefix:{digest[:8]}" if algorithm == "sha256-prefix" else f"sha256:{digest}"
