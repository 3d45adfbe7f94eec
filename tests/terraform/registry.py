#!/usr/bin/env python3
"""A provider registry on loopback, for scripts/test-provider: serves the release in DIST (what
scripts/package-provider writes, plus the SHA256SUMS.sig and the armored public key a release
adds) over HTTPS with Terraform's provider registry protocol, so that `terraform init` installs
the provider as it would from a registry: checksum and GPG signature checked, the zip's `zh:`
hashes recorded in the lock file.

    registry.py DIST CERT KEY PORT_FILE

Listens on a free port of 127.0.0.1, writes it to PORT_FILE, serves until terminated:
GET /v1/providers/portcullis/portcullis/versions, .../VERSION/download/OS/ARCH, and the files
of DIST under /files/."""
import json
import pathlib
import re
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

dist, cert, key, port_file = (pathlib.Path(arg) for arg in sys.argv[1:5])
NAME = "terraform-provider-portcullis"
sums_file = next(dist.glob(f"{NAME}_*_SHA256SUMS"))
version = re.fullmatch(rf"{NAME}_(.+)_SHA256SUMS", sums_file.name).group(1)
sums = dict(line.split()[::-1] for line in sums_file.read_text().splitlines())
archives = {m.group(1): name for name in sums if (m := re.fullmatch(rf"{NAME}_{re.escape(version)}_(\w+)\.zip", name))}
manifest = json.loads((dist / f"{NAME}_{version}_manifest.json").read_text())
protocols = manifest["metadata"]["protocol_versions"]
armor = (dist / "signing-key.asc").read_text()
key_id = (dist / "signing-key.id").read_text().strip()


class Registry(BaseHTTPRequestHandler):
    def answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        base = f"https://127.0.0.1:{self.server.server_port}"
        prefix = "/v1/providers/portcullis/portcullis/"
        if self.path == prefix + "versions":
            platforms = [dict(zip(("os", "arch"), platform.split("_"))) for platform in archives]
            body = {"versions": [{"version": version, "protocols": protocols, "platforms": platforms}]}
            return self.answer(200, json.dumps(body).encode())
        download = re.fullmatch(re.escape(prefix + version) + r"/download/(\w+)/(\w+)", self.path)
        if download and f"{download[1]}_{download[2]}" in archives:
            archive = archives[f"{download[1]}_{download[2]}"]
            body = {
                "protocols": protocols, "os": download[1], "arch": download[2], "filename": archive,
                "download_url": f"{base}/files/{archive}",
                "shasums_url": f"{base}/files/{sums_file.name}",
                "shasums_signature_url": f"{base}/files/{sums_file.name}.sig",
                "shasum": sums[archive],
                "signing_keys": {"gpg_public_keys": [{"key_id": key_id, "ascii_armor": armor}]},
            }
            return self.answer(200, json.dumps(body).encode())
        served = self.path.removeprefix("/files/")
        if self.path.startswith("/files/") and "/" not in served and (dist / served).is_file():
            return self.answer(200, (dist / served).read_bytes(), "application/octet-stream")
        self.answer(404, b'{"errors":["not found"]}')

    def log_message(self, format, *args):
        sys.stderr.write(f"registry: {format % args}\n")


server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
port_file.write_text(str(server.server_port))
server.serve_forever()
