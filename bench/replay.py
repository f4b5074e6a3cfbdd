"""Load-test one AWS operation with wrk: sign a request once with botocore, replay it.

    python bench/replay.py --endpoint http://127.0.0.1:4566 --duration 30 --connections 32

It creates a case with boto3, signs one AddCommunicationToCase request for it (SigV4 allows
replays for 15 minutes), writes a wrk Lua script that sends exactly those bytes, runs wrk, and
prints wrk's report. Start the server yourself (``casework serve``) so that it can be profiled
or run against another database; nothing here is timed inside the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"


def signed_request(endpoint: str, target: str, body: dict) -> AWSRequest:
    request = AWSRequest(method="POST", url=f"{endpoint}/", data=json.dumps(body).encode(),
                         headers={"X-Amz-Target": target,
                                  "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials("test", "test"), "support", REGION).add_auth(request)
    return request


def lua_script(request: AWSRequest) -> str:
    headers = "\n".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in request.headers.items())
    return (f'wrk.method = "POST"\nwrk.body = {json.dumps(request.body.decode())}\n'
            f"{headers}\n"
            "function response(status, headers, body)\n"
            '  if status ~= 200 then print("unexpected status " .. status .. ": " .. body) end\n'
            "end\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:4566")
    parser.add_argument("--duration", type=int, default=30, help="seconds (at most 900)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--server-pid", type=int,
                        help="also report the server's CPU time per request (robust to a busy "
                             "machine, unlike requests per second)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    support = boto3.client("support", endpoint_url=args.endpoint, region_name=REGION,
                           aws_access_key_id="test", aws_secret_access_key="test")
    case_id = support.create_case(subject="load", communicationBody="replayed")["caseId"]
    request = signed_request(args.endpoint, "AWSSupport_20130415.AddCommunicationToCase",
                             {"caseId": case_id, "communicationBody": "Logs attached",
                              "ccEmailAddresses": ["ops@example.com"]})
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "replay.lua"
        script.write_text(lua_script(request))
        command = ["wrk", f"-t{args.threads}", f"-c{args.connections}",
                   f"-d{min(args.duration, 900)}s", "--latency", "-s", str(script),
                   args.endpoint + "/"]
        print("$ " + " ".join(command), flush=True)
        cpu_before = cpu_seconds(args.server_pid) if args.server_pid else 0.0
        done = subprocess.run(command, capture_output=True, text=True)
        print(done.stdout, done.stderr, sep="", end="")
        if args.server_pid and done.returncode == 0:
            total = int(re.search(r"(\d+) requests in", done.stdout)[1])
            used = cpu_seconds(args.server_pid) - cpu_before
            print(f"server CPU: {used:.2f} s for {total} requests = "
                  f"{used / total * 1e6:.0f} us per request")
        return done.returncode


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    sys.exit(main())
