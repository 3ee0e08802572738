"""Shows what GPU work this instance was given: run by examples/gpu/*.json (docs/gpus.md).

GET / answers with the instance id, the CUDA/NVIDIA visibility variables, the MPS limits of a shared
slice and the NVIDIA device nodes the instance can see. Standard library only, so it starts at once.
"""
import glob
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEYS = (
    "EAS_INSTANCE_ID",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "EAS_GPU_MEMORY_MIB",
    "EAS_GPU_CORE_PERCENTAGE",
    "CUDA_MPS_PIPE_DIRECTORY",
    "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT",
    "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE",
)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = {key.lower(): os.environ.get(key) for key in KEYS}
        body["pid"] = os.getpid()
        body["devices"] = sorted(glob.glob("/dev/nvidia*") + glob.glob("/dev/nvidia-caps/*"))
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    # PID 1 in its container ignores SIGTERM unless it handles it; with rpc.enable_sigterm it then stops at once.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()
