"""The PAI-EAS quick-start service: a Flask app that answers on 0.0.0.0:8000.

Every answer names the instance that served it, so repeated calls through the
gateway show the load being spread over the replicas.
"""
import os
import socket
import time

from flask import Flask, request

app = Flask(__name__)
INSTANCE = os.environ.get("EAS_INSTANCE_ID", socket.gethostname())


@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def hello(path):
    # /sleep?seconds=N lets a user see the gateway's rpc.keepalive timeout (408).
    if path == "sleep":
        time.sleep(float(request.args.get("seconds", "1")))
    body = request.get_data(as_text=True)
    return f"hello eas! instance={INSTANCE} path=/{path} received={len(body)} bytes\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")), threaded=True)
