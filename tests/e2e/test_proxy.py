"""Casework behind a reverse proxy that ends TLS, as a load balancer does.

The proxy here is a real HTTP server on a loopback address of its own (127.0.0.2 or .3), which
forwards every request unchanged (the Host header too: SigV4 signs it) from that address and
adds ``X-Forwarded-Proto: https``. Whether Casework believes that header decides the scheme
of presigned URLs and the console's Origin check.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import httpx
import pytest
from conftest import start_server
from console_helpers import PASSWORD, create_agent

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@contextmanager
def proxy(address: str, upstream: str) -> Iterator[str]:
    """A TLS-ending proxy listening on ``address`` in front of ``upstream``; its endpoint as
    its clients see it (``http``: the TLS part is pretended)."""
    client = httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
            headers.append(("X-Forwarded-Proto", "https"))
            answer = client.request(self.command, upstream + self.path, content=body,
                                    headers=headers)
            self.send_response(answer.status_code)
            for name, value in answer.headers.multi_items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = forward

        def log_message(self, *args) -> None:
            pass

    listener = ThreadingHTTPServer((address, 0), Forward)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        yield f"http://{address}:{listener.server_address[1]}"
    finally:
        listener.shutdown()
        listener.server_close()
        client.close()


def upload_url(endpoint: str) -> str:
    support = boto3.client("support", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
    links = support.get_attachment_upload_links(fileName="app.log", fileSizeBytes=10)
    return links["uploadUrls"][0]["url"]


def sign_in(endpoint: str, email: str, origin: str) -> httpx.Response:
    form = httpx.get(f"{endpoint}/console/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    # Sent by hand: a cookie marked Secure is one httpx's jar keeps from an http URL.
    cookie = "; ".join(f"{name}={value}" for name, value in form.cookies.items())
    return httpx.post(f"{endpoint}/console/sign-in",
                      data={"email": email, "password": PASSWORD, "csrf_token": token},
                      headers={"Origin": origin, "Cookie": cookie})


@pytest.fixture(scope="module")
def trusting(tmp_path_factory):
    """A server that believes the proxy at 127.0.0.2 only."""
    running = start_server(tmp_path_factory.mktemp("trusting"),
                           "--forwarded-allow-ips", "127.0.0.2")
    yield running
    running.stop()


@pytest.mark.parametrize("believed", [True, False])
def test_through_a_proxy_links_and_the_console_use_the_scheme_believed(believed, request):
    # ``trusting`` believes 127.0.0.2; the default (127.0.0.1 and ::1) not 127.0.0.3.
    target = request.getfixturevalue("trusting" if believed else "server")
    scheme = "https" if believed else "http"
    with proxy("127.0.0.2" if believed else "127.0.0.3", target.endpoint) as endpoint:
        host = endpoint.removeprefix("http://")
        # A presigned URL names what the client reached: the proxy's host, and its scheme.
        assert upload_url(endpoint).startswith(f"{scheme}://{host}/_casework/support/uploads/")
        # The browser's page is https://<proxy>: the console's own origin only if believed.
        answer = sign_in(endpoint, create_agent(target, "--all"), f"https://{host}")
        if believed:
            assert answer.status_code == 303, answer.text
            assert answer.headers["location"] == "/console/overview"
            cookie = answer.headers["set-cookie"]
            assert cookie.startswith("casework_console=") and "; Secure" in cookie
        else:
            assert answer.status_code == 403
            assert "This request came from another site." in answer.text


def test_a_scheme_the_client_sent_ahead_of_the_proxys_is_not_taken(trusting):
    # The proxy adds its header after the client's: the last one is the proxy's word.
    with proxy("127.0.0.2", trusting.endpoint) as endpoint:
        form = httpx.get(f"{endpoint}/console/sign-in", headers={"X-Forwarded-Proto": "http"})
        assert "; Secure" in form.headers["set-cookie"]


def test_by_default_a_proxy_on_this_machine_is_believed_over_ipv4_and_ipv6(tmp_path):
    # On "::" an IPv4 peer shows as ::ffff:127.0.0.1: still the address trusted.
    dual = start_server(tmp_path, "--host", "::")
    port = dual.endpoint.rsplit(":", 1)[1]
    try:
        for local, url in (("127.0.0.1", f"http://127.0.0.1:{port}"),
                           ("::1", f"http://[::1]:{port}"),
                           ("127.0.0.3", f"http://127.0.0.1:{port}")):
            with httpx.Client(transport=httpx.HTTPTransport(local_address=local)) as client:
                form = client.get(f"{url}/console/sign-in",
                                  headers={"X-Forwarded-Proto": "https"})
            assert ("; Secure" in form.headers["set-cookie"]) == (local != "127.0.0.3"), local
    finally:
        dual.stop()


def test_an_empty_forwarded_allow_ips_believes_no_proxy(tmp_path):
    nobody = start_server(tmp_path, "--forwarded-allow-ips", "")
    try:
        form = httpx.get(f"{nobody.endpoint}/console/sign-in",
                         headers={"X-Forwarded-Proto": "https"})
        assert "; Secure" not in form.headers["set-cookie"]
    finally:
        nobody.stop()


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "127.0.0.1,::1%"])
def test_a_forwarded_allow_ips_that_is_no_address_stops_the_start(tmp_path, value):
    done = subprocess.run(
        [sys.executable, "-m", "casework", "serve", "--port", "0", "--data-dir",
         str(tmp_path), "--forwarded-allow-ips", value],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Invalid value for '--forwarded-allow-ips'" in done.stderr
    assert "is not an IP address or network" in done.stderr
